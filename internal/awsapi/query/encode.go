package query

import (
	"bytes"
	"encoding/base64"
	"reflect"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// TimeFormat is how EC2 writes timestamps in responses.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// Encode writes the members of the struct src points to as EC2 XML elements (without
// the response's root element, which the caller writes). Nil pointers and nil slices
// are omitted; an empty non-nil list is written as an empty element, as EC2 does.
func Encode(buf *bytes.Buffer, src any) {
	v := reflect.ValueOf(src)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	encodeStruct(buf, v, planFor(v.Type()))
}

func encodeStruct(buf *bytes.Buffer, v reflect.Value, p *structPlan) {
	for i := range p.fields {
		f := &p.fields[i]
		fv := v.Field(f.index)
		switch f.t.kind {
		case kindList:
			if fv.IsNil() {
				continue
			}
			if f.flat {
				for j := 0; j < fv.Len(); j++ {
					encodeElement(buf, f.xmlName, fv.Index(j), *f.t.elem)
				}
				continue
			}
			if fv.Len() == 0 {
				buf.WriteString("<" + f.xmlName + "/>")
				continue
			}
			open(buf, f.xmlName)
			for j := 0; j < fv.Len(); j++ {
				encodeElement(buf, f.itemName, fv.Index(j), *f.t.elem)
			}
			closeTag(buf, f.xmlName)
		case kindMap:
			if fv.IsNil() {
				continue
			}
			encodeMap(buf, f, fv)
		case kindBlob:
			if fv.IsNil() {
				continue
			}
			encodeElement(buf, f.xmlName, fv, f.t)
		default:
			if f.t.ptr && fv.IsNil() {
				continue
			}
			encodeElement(buf, f.xmlName, fv, f.t)
		}
	}
}

func encodeMap(buf *bytes.Buffer, f *field, m reflect.Value) {
	keys := m.MapKeys()
	sort.Slice(keys, func(a, b int) bool { return keys[a].String() < keys[b].String() })
	if !f.flat {
		open(buf, f.xmlName)
	}
	for _, k := range keys {
		if f.flat {
			open(buf, f.xmlName)
		} else {
			open(buf, "entry")
		}
		open(buf, f.keyName)
		escape(buf, k.String())
		closeTag(buf, f.keyName)
		encodeElement(buf, f.valName, m.MapIndex(k), *f.t.elem)
		if f.flat {
			closeTag(buf, f.xmlName)
		} else {
			closeTag(buf, "entry")
		}
	}
	if !f.flat {
		closeTag(buf, f.xmlName)
	}
}

func encodeElement(buf *bytes.Buffer, name string, v reflect.Value, t typePlan) {
	if t.ptr {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	switch t.kind {
	case kindStruct:
		open(buf, name)
		encodeStruct(buf, v, t.st)
		closeTag(buf, name)
		return
	case kindList:
		// A list inside a list: EC2 has none, but keep the shape sensible.
		open(buf, name)
		for j := 0; j < v.Len(); j++ {
			encodeElement(buf, "member", v.Index(j), *t.elem)
		}
		closeTag(buf, name)
		return
	}
	open(buf, name)
	writeScalar(buf, v, t)
	closeTag(buf, name)
}

func writeScalar(buf *bytes.Buffer, v reflect.Value, t typePlan) {
	var scratch [64]byte
	switch t.kind {
	case kindString:
		escape(buf, v.String())
	case kindInt32, kindInt64:
		buf.Write(strconv.AppendInt(scratch[:0], v.Int(), 10))
	case kindBool:
		buf.Write(strconv.AppendBool(scratch[:0], v.Bool()))
	case kindFloat:
		buf.Write(strconv.AppendFloat(scratch[:0], v.Float(), 'f', -1, 64))
	case kindTime:
		buf.Write(v.Interface().(time.Time).UTC().AppendFormat(scratch[:0], TimeFormat))
	case kindBlob:
		buf.WriteString(base64.StdEncoding.EncodeToString(v.Bytes()))
	}
}

// plainASCII reports whether s is printable ASCII without XML's special characters,
// the common case that needs no escaping.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\t' && c != '\n' || c >= 0x7f || c == '<' || c == '>' || c == '&' || c == '"' || c == '\'' {
			return false
		}
	}
	return true
}

func open(buf *bytes.Buffer, name string) {
	buf.WriteByte('<')
	buf.WriteString(name)
	buf.WriteByte('>')
}

func closeTag(buf *bytes.Buffer, name string) {
	buf.WriteString("</")
	buf.WriteString(name)
	buf.WriteByte('>')
}

// escape writes s as XML character data. Characters XML 1.0 cannot carry are replaced
// by U+FFFD so a response is always well-formed.
func escape(buf *bytes.Buffer, s string) {
	if plainASCII(s) {
		buf.WriteString(s)
		return
	}
	last := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var esc string
		switch {
		case r == '<':
			esc = "&lt;"
		case r == '>':
			esc = "&gt;"
		case r == '&':
			esc = "&amp;"
		case r == '"':
			esc = "&quot;"
		case r == '\'':
			esc = "&apos;"
		case r == '\r':
			esc = "&#xD;"
		case r == utf8.RuneError && size == 1, r < 0x20 && r != '\t' && r != '\n':
			esc = "\uFFFD"
		default:
			i += size
			continue
		}
		buf.WriteString(s[last:i])
		buf.WriteString(esc)
		i += size
		last = i
	}
	buf.WriteString(s[last:])
}

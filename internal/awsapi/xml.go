package awsapi

import (
	"bytes"
	"encoding/xml"
)

func xmlEscape(buf *bytes.Buffer, s string) {
	xml.EscapeText(buf, []byte(s))
}

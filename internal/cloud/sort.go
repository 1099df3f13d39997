package cloud

import (
	"slices"
	"strings"
)

// sortByUniqueKey orders items by a key that is unique among them (so no stable sort
// is needed, and pattern-defeating quicksort moves far fewer large structs).
func sortByUniqueKey[T any](items []T, key func(T) string) {
	slices.SortFunc(items, func(a, b T) int { return strings.Compare(key(a), key(b)) })
}

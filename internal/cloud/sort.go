package cloud

import "sort"

// sortBy orders items by a string key, keeping equal keys in their order.
func sortBy[T any](items []T, key func(T) string) {
	sort.SliceStable(items, func(i, j int) bool { return key(items[i]) < key(items[j]) })
}

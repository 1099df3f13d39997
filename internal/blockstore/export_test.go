package blockstore

// SetCBWMemLimit makes snapshots of s spill copy-before-write copies past n bytes.
func SetCBWMemLimit(s *Store, n int64) { s.cbwMemLimit = n }

// Sweep runs the collector and returns how many chunks it removed.
func Sweep(s *Store) (int, error) { return s.sweep() }

// Package compute holds the drivers that make instances real, behind the control
// plane's contract cloud.Compute: a registry by name (Register, Open, Names), the
// errors every driver returns for the same faults (ErrNotFound, ErrInvalidState),
// and the options a driver is opened with.
//
// Drivers live in sub-packages and register themselves from init(), the way
// database/sql drivers do: import the driver for its side effect, then Open it by
// the name `--driver` spells.
//
//	import _ "strato/internal/compute/mock"
//	driver, err := compute.Open("mock", compute.Options{DataDir: dir, Log: log, Clock: clock})
//
// Every driver keeps what it made under DataDir/compute/NAME/, so that a new
// process opened on the same data directory adopts the instances the previous one
// left (Status reports them). The conformance sub-package is the test suite every
// driver must pass.
package compute

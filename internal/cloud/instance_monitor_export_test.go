package cloud

import "time"

// SetMonitorWake makes the instance monitor read the clock every d of real
// time instead of every second; it returns a function that restores the
// default. Call both while no monitor runs.
func SetMonitorWake(d time.Duration) (restore func()) {
	old := monitorWake
	monitorWake = d
	return func() { monitorWake = old }
}

// Package host holds what the compute drivers that run real instances on this host
// share: who a process is (so that a PID reused by another process is never taken for
// an instance's), files replaced whole and sparse copies of disks, volumes as host
// block devices (loop devices, and dm-crypt for encrypted volumes), the names devices
// have inside an instance (Xen's xvd names), and instance IDs as directory names.
package host

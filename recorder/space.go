package recorder

import (
	"fmt"
	"syscall"
)

// FreeBytes is the space left on the filesystem holding dir for an
// unprivileged writer (statfs's available blocks, not the free ones the
// root reserve adds to): what recordings can still use. Calls check it
// before they start recording.
func FreeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("free space of %s: %w", dir, err)
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil //nolint:gosec // sizes are never negative
}

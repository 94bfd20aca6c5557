//go:build !cgo

package gpu

// LoadORT needs cgo; without it every call returns ErrNoCgo.
func LoadORT(path string) (*Runtime, error) { return nil, ErrNoCgo }

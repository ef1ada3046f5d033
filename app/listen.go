package app

import (
	"fmt"
	"net"
)

// Listener is an address a program will listen on: the flag that moves it
// and what most likely holds it when it is taken.
type Listener struct{ Addr, Flag, Likely string }

// CheckFree names the first taken address in one line, before anything
// starts, rather than failing half-way through start-up.
func CheckFree(ls []Listener) error {
	for _, l := range ls {
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			return fmt.Errorf("%s is taken (%v; %s already running?): stop it, or choose another with %s", l.Addr, err, l.Likely, l.Flag)
		}
		ln.Close()
	}
	return nil
}

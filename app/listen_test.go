package app

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A taken address is named with what most likely holds it and the flag
// that moves the program elsewhere; free ones pass.
func TestCheckFreeNamesTheTakenAddress(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	free := Listener{Addr: "127.0.0.1:0", Flag: "-ui-port", Likely: "a Temporal Web UI"}
	require.NoError(t, CheckFree([]Listener{free}))
	err = CheckFree([]Listener{free, {Addr: taken.Addr().String(), Flag: "-sandbox-port", Likely: "another dev's sandbox Tableau"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), taken.Addr().String()+" is taken")
	assert.Contains(t, err.Error(), "another dev's sandbox Tableau already running?")
	assert.Contains(t, err.Error(), "choose another with -sandbox-port")
}

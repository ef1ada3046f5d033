package app

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Settings come from flags, else their environment variables, else the
// defaults; an empty variable counts as unset, except TABFLOW_HTTP_ADDRESS,
// whose empty value turns metrics and probes off.
func TestFlagsFromTheEnvironment(t *testing.T) {
	register := func(args ...string) (Flags, error) {
		var f Flags
		fs := flag.NewFlagSet("worker", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		if err := f.Register(fs); err != nil {
			return f, err
		}
		return f, fs.Parse(args)
	}
	f, err := register()
	require.NoError(t, err)
	assert.Equal(t, Flags{TaskQueue: "tableau", ConnectionFile: f.ConnectionFile, LogFormat: "text", LogLevel: "info", StopTimeout: DefaultStopTimeout, HTTPAddress: DefaultHTTPAddress}, f)

	t.Setenv("TABFLOW_TASK_QUEUE", "finance")
	t.Setenv("TABFLOW_LOG_FORMAT", "")
	t.Setenv("TABFLOW_STOP_TIMEOUT", "45s")
	t.Setenv("TABFLOW_HTTP_ADDRESS", "")
	f, err = register("-log-level", "debug")
	require.NoError(t, err)
	assert.Equal(t, "finance", f.TaskQueue)
	assert.Equal(t, "text", f.LogFormat, "an empty variable is unset")
	assert.Equal(t, "debug", f.LogLevel, "a flag beats its variable")
	assert.Equal(t, 45*time.Second, f.StopTimeout)
	assert.Equal(t, "", f.HTTPAddress, "an empty TABFLOW_HTTP_ADDRESS turns metrics and probes off")

	for _, bad := range []string{"soon", "-5s"} {
		t.Setenv("TABFLOW_STOP_TIMEOUT", bad)
		_, err = register()
		assert.EqualError(t, err, "TABFLOW_STOP_TIMEOUT must be a duration such as 30s", bad)
	}
}

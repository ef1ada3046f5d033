package workflows_test

import (
	"fmt"
	"testing"

	"tabflow/testsuite"
)

func TestDebugSchedule(t *testing.T) {
	fake := testsuite.StartTableau(t)
	s := generateSchedule(100)
	for range 30 {
		if err := checkSchedule(t, fake, s); err != nil {
			obs, _ := runSchedule(t, fake, s)
			fmt.Println("ERR", err)
			_ = obs
		}
	}
}

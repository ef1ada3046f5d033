// Command worker is tabflow's production Temporal worker: it connects to
// Temporal, registers every tabflow workflow and activity, and carries access
// decisions into one Tableau site. It links no Temporal server, no Web UI and
// no fake Tableau; for everything in one process on a laptop, see ./dev.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"tabflow/app"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "probe" {
		// The container image has no curl: `worker probe URL` is its
		// health check.
		if err := app.Probe(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "probe:", err)
			os.Exit(1)
		}
		return
	}
	var f app.Flags
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: worker [flags]
       worker probe URL     (exit 0 when URL answers 200: a container health check)

Runs the tabflow Temporal worker for one Tableau site. Temporal is configured
with TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*
or a TEMPORAL_PROFILE; Tableau with TABLEAU_* variables or a connection file
(see README).

Flags:
`)
		fs.PrintDefaults()
	}
	logger := app.ParseOrExit(fs, &f, os.Args[1:], f.Register(fs))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, f, logger); err != nil {
		logger.Error("worker stopped", "error", err)
		os.Exit(1)
	}
}

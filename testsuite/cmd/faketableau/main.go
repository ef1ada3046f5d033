// Command faketableau runs the fake Tableau sandbox site so tabflow can be
// tried without a Tableau site. It prints the settings to use.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"tabflow/testsuite/faketableau"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8443", "address to listen on")
	dir := flag.String("dir", os.TempDir(), "folder for the CA certificate file")
	flag.Parse()

	s, err := faketableau.New(faketableau.WithAddr(*addr))
	if err != nil {
		fmt.Fprintln(os.Stderr, "faketableau:", err)
		os.Exit(1)
	}
	defer s.Close()
	faketableau.SeedSandbox(s)
	caPath, err := s.WriteCACert(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faketableau:", err)
		os.Exit(1)
	}
	faketableau.PrintSandbox(os.Stdout, s, caPath)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
}

package main

import (
	"fmt"
	"log/slog"
	"os"

	"tabflow/testsuite/devserver"
	"tabflow/testsuite/faketableau"
)

// startDev runs the embedded Temporal server and, when no Tableau connection
// is configured, the sandbox Tableau site, pointing this process at both.
func startDev(f flags, logger *slog.Logger) (stop func(), err error) {
	srv, err := devserver.Start(devserver.Options{DBFile: f.devDB, Port: f.devPort, UIPort: f.devUIPort})
	if err != nil {
		return nil, fmt.Errorf("starting the dev Temporal server: %w", err)
	}
	stops := []func(){srv.Stop}
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	os.Setenv("TEMPORAL_ADDRESS", srv.FrontendAddr)
	os.Setenv("TEMPORAL_NAMESPACE", srv.Namespace)
	logger.Info("dev Temporal server running", "address", srv.FrontendAddr, "namespace", srv.Namespace, "ui", srv.UIURL, "db", f.devDB)

	if !tableauConfigured(f.connectionFile) {
		sandbox, err := faketableau.New()
		if err != nil {
			stop()
			return nil, err
		}
		stops = append(stops, sandbox.Close)
		faketableau.SeedSandbox(sandbox)
		caPath, err := sandbox.WriteCACert(os.TempDir())
		if err != nil {
			stop()
			return nil, err
		}
		for k, v := range map[string]string{
			"TABLEAU_SERVER_URL": sandbox.Host, "TABLEAU_SITE": faketableau.SandboxSite, "TABLEAU_CA_FILE": caPath,
			"TABLEAU_AUTH_METHOD": "pat", "TABLEAU_PAT_NAME": faketableau.SandboxAdminPAT, "TABLEAU_PAT_SECRET": faketableau.SandboxAdminSecret,
		} {
			os.Setenv(k, v)
		}
		logger.Warn("no Tableau connection configured: using the SANDBOX Tableau site (a fake, not a real Tableau)",
			"url", sandbox.URL, "users", "ana@ (Unlicensed), ben@ (Viewer), chloe@ (Explorer), dev@ (Creator), newhire@ (never signed in) — all @example.com")
	}
	return stop, nil
}

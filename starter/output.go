package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"tabflow/internal/words"
	"tabflow/tableau"
	"tabflow/workflows"
)

func showHealth(w io.Writer, res workflows.HealthCheckResult) {
	for _, c := range res.Checks {
		mark := "✓"
		if !c.OK {
			mark = "✗"
		}
		fmt.Fprintf(w, "%s %s: %s\n", mark, c.Name, c.Message)
		if c.Cause != "" {
			fmt.Fprintf(w, "    cause: %s\n", c.Cause)
		}
	}
	if res.PATExpiresIn != "" {
		fmt.Fprintf(w, "PAT expires in %s\n", res.PATExpiresIn)
	}
	for _, p := range res.PATs {
		if p.OK {
			fmt.Fprintf(w, "  PAT %s: works, expires in %s\n", p.Name, p.ExpiresIn)
		} else {
			fmt.Fprintf(w, "  PAT %s: REFUSED: %s\n", p.Name, p.Cause)
		}
	}
	for _, warning := range res.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warning)
	}
	if res.OK {
		fmt.Fprintln(w, "healthy")
	} else {
		fmt.Fprintln(w, "NOT healthy")
	}
}

func showUsers(w io.Writer, users []tableau.User) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSITE ROLE\tLAST LOGIN\tID")
	for _, u := range users {
		last := u.LastLogin
		if last == "" {
			last = "never"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.SiteRole, last, u.ID)
	}
	tw.Flush()
	fmt.Fprintln(w, words.Count(len(users), "user"))
}

func showSearch(w io.Writer, res tableau.SearchResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tTITLE\tOWNER\tLUID")
	for _, it := range res.Items {
		fmt.Fprintf(tw, "%v\t%v\t%v\t%v\n", it.Content["type"], it.Content["title"], it.Content["ownerName"], it.Content["luid"])
	}
	tw.Flush()
	fmt.Fprintf(w, "%d of %d hits\n", len(res.Items), res.Total)
}

func showConnection(w io.Writer, path string, cfg tableau.Config) {
	site := cfg.Site
	if site == "" {
		site = "(Default site)"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "connection\t%s\n", cfg.DisplayName())
	fmt.Fprintf(tw, "file\t%s\n", path)
	fmt.Fprintf(tw, "server URL\t%s\n", cfg.ServerURL)
	fmt.Fprintf(tw, "site content URL\t%s\n", site)
	switch cfg.Auth {
	case tableau.AuthJWT:
		fmt.Fprintf(tw, "auth\tconnected app (JWT)\nclient ID\t%s\nsecret ID\t%s\nsecret value\t%s\nusername\t%s\n", cfg.JWT.ClientID, cfg.JWT.SecretID, cfg.JWT.Secret.Masked(), cfg.JWT.Username)
	case tableau.AuthPassword:
		fmt.Fprintf(tw, "auth\tusername and password\nusername\t%s\npassword\t%s\n", cfg.Username, cfg.Password.Masked())
	default:
		fmt.Fprintf(tw, "auth\tPersonal Access Token\nPAT name\t%s\nPAT secret\t%s\n", cfg.PATName, cfg.PATSecret.Masked())
		for i, p := range cfg.PATPool {
			fmt.Fprintf(tw, "PAT %d\t%s (secret %s)\n", i+2, p.Name, p.Secret.Masked())
		}
	}
	if cfg.APIVersion != "" {
		fmt.Fprintf(tw, "API version\t%s\n", cfg.APIVersion)
	}
	if cfg.CAFile != "" {
		fmt.Fprintf(tw, "CA file\t%s\n", cfg.CAFile)
	}
	tw.Flush()
}

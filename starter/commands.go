package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"tabflow/tableau"
	"tabflow/workflows"
)

func cmdProvision(a *cli, args []string) int {
	return a.userRole("provision", args, "site role: Viewer, Explorer, ExplorerCanPublish, Creator or SiteAdministratorExplorer", func(user, role string) int {
		var res workflows.ProvisionResult
		return a.execute(workflows.ProvisionWorkflow, a.workflowID("provision", user),
			workflows.ProvisionInput{User: user, Role: role}, &res, func(w io.Writer) { fmt.Fprintln(w, res.Message) })
	})
}

func cmdDeprovision(a *cli, args []string) int {
	return a.userRole("deprovision", args, "the role being revoked; only when it is the user's current role is it set to Unlicensed", func(user, role string) int {
		var res workflows.DeprovisionResult
		return a.execute(workflows.DeprovisionWorkflow, a.workflowID("deprovision", user),
			workflows.DeprovisionInput{User: user, Role: role}, &res, func(w io.Writer) { fmt.Fprintln(w, res.Message) })
	})
}

// userRole parses --user and --role (validation is the workflow's) and runs fn.
func (a *cli) userRole(name string, args []string, roleHelp string, fn func(user, role string) int) int {
	fs := a.flags(name)
	u, r := userRoleFlags(fs, roleHelp)
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	return fn(*u, *r)
}

// userRoleFlags are --user and --role.
func userRoleFlags(fs *flag.FlagSet, roleHelp string) (user, role *string) {
	return fs.String("user", "", "Tableau user name (on Tableau Cloud, the e-mail address)"), fs.String("role", "", roleHelp)
}

func cmdHealthCheck(a *cli, args []string) int {
	fs := a.flags("healthcheck")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	var res workflows.HealthCheckResult
	code := a.execute(workflows.HealthCheckWorkflow, a.workflowID("healthcheck", ""), map[string]any{}, &res, func(w io.Writer) { showHealth(w, res) })
	if code == exitOK && a.wait && !res.OK {
		return exitFailed
	}
	return code
}

func cmdUsers(a *cli, args []string) int {
	return a.runSubcommand("users", args,
		subcommand{"list", func(fs *flag.FlagSet) func() int {
			filter := fs.String("filter", "", "Tableau filter, e.g. siteRole:eq:Viewer")
			pageSize := fs.Int("page-size", tableau.MaxPageSize, "users per page (1–1000)")
			asCSV := fs.Bool("csv", false, "print CSV instead of a table")
			return func() int {
				if *pageSize < 1 || *pageSize > tableau.MaxPageSize {
					return a.usageError("users list: --page-size must be between 1 and %d", tableau.MaxPageSize)
				}
				return a.listUsers(*filter, *pageSize, *asCSV)
			}
		}},
		subcommand{"get", func(fs *flag.FlagSet) func() int {
			u := fs.String("user", "", "user name")
			id := fs.String("user-id", "", "user ID (LUID), instead of --user")
			return func() int {
				var res tableau.User
				return a.execute(workflows.GetUserWorkflow, a.workflowID("get-user", *u+*id), workflows.GetUserInput{User: *u, ID: *id}, &res, func(w io.Writer) { showUsers(w, []tableau.User{res}) })
			}
		}},
		subcommand{"set-role", func(fs *flag.FlagSet) func() int {
			u, r := userRoleFlags(fs, "any settable role, Unlicensed and SiteAdministratorCreator included")
			return func() int {
				var res workflows.SetSiteRoleResult
				return a.execute(workflows.SetSiteRoleWorkflow, a.workflowID("set-site-role", *u), workflows.SetSiteRoleInput{User: *u, Role: *r}, &res, func(w io.Writer) { fmt.Fprintln(w, res.Message) })
			}
		}})
}

// subcommand is a command's word: flags defines its flags and returns what
// runs once they are parsed.
type subcommand struct {
	name  string
	flags func(fs *flag.FlagSet) (run func() int)
}

// runSubcommand runs the one of subs that args start with.
func (a *cli) runSubcommand(cmd string, args []string, subs ...subcommand) int {
	var names []string
	for _, sub := range subs {
		names = append(names, sub.name)
	}
	if len(args) == 0 {
		return a.usageError("%s: say %s", cmd, strings.Join(names, ", "))
	}
	i := slices.IndexFunc(subs, func(sub subcommand) bool { return sub.name == args[0] })
	if i < 0 {
		return a.usageError("%s: unknown subcommand %q (%s)", cmd, args[0], strings.Join(names, ", "))
	}
	fs := a.flags(cmd + " " + args[0])
	run := subs[i].flags(fs)
	if code, ok := a.parse(fs, args[1:]); !ok {
		return code
	}
	return run()
}

// keyValues is a repeatable k=v flag.
type keyValues map[string]string

func (kv keyValues) String() string { return fmt.Sprint(map[string]string(kv)) }
func (kv keyValues) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q must be key=value", s)
	}
	kv[k] = v
	return nil
}

func cmdContent(a *cli, args []string) int {
	return a.runSubcommand("content", args,
		subcommand{"collections", func(fs *flag.FlagSet) func() int {
			q := keyValues{}
			fs.Var(q, "query", "query parameter key=value (repeatable)")
			return func() int {
				var res json.RawMessage
				return a.execute(workflows.ListCollectionsWorkflow, a.workflowID("list-collections", ""), workflows.ListCollectionsInput{Query: q}, &res, nil)
			}
		}},
		subcommand{"search", func(fs *flag.FlagSet) func() int {
			in := workflows.SearchContentInput{}
			fs.StringVar(&in.Terms, "terms", "", "search terms")
			fs.StringVar(&in.Filter, "filter", "", "e.g. type:eq:workbook")
			fs.IntVar(&in.Limit, "limit", 0, "hits per page")
			fs.IntVar(&in.Page, "page", 0, "page, from 0")
			return func() int {
				var res tableau.SearchResult
				return a.execute(workflows.SearchContentWorkflow, a.workflowID("search-content", ""), in, &res, func(w io.Writer) { showSearch(w, res) })
			}
		}},
		subcommand{"usage", func(fs *flag.FlagSet) func() int {
			in := workflows.UsageStatsInput{}
			fs.StringVar(&in.Type, "type", "", "content type, e.g. workbook")
			fs.StringVar(&in.LUID, "luid", "", "content LUID")
			return func() int {
				var res json.RawMessage
				return a.execute(workflows.UsageStatsWorkflow, a.workflowID("usage-stats", in.LUID), in, &res, nil)
			}
		}})
}

func cmdRequest(a *cli, args []string) int {
	fs := a.flags("request")
	in := workflows.TableauRequestInput{Query: keyValues{}}
	fs.StringVar(&in.Method, "method", "GET", "HTTP method")
	fs.StringVar(&in.Path, "path", "", "path relative to /api/{version}/ (or -/… for /api/-/), e.g. sites/{site-id}/users")
	fs.Var(keyValues(in.Query), "query", "query parameter key=value (repeatable)")
	body := fs.String("body", "", "JSON body")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if *body != "" {
		if !json.Valid([]byte(*body)) {
			return a.usageError("request: --body is not valid JSON")
		}
		in.Body = json.RawMessage(*body)
	}
	var res workflows.TableauRequestResult
	return a.execute(workflows.TableauRequestWorkflow, a.workflowID("tableau-request", ""), in, &res, nil)
}

func cmdConnection(a *cli, args []string) int {
	if len(args) == 0 || (args[0] != "set" && args[0] != "show" && args[0] != "clear") {
		return a.usageError("connection: say set, show or clear")
	}
	fs := a.flags("connection " + args[0])
	path := fs.String("connection", envOr("TABLEAU_CONNECTION_FILE", tableau.DefaultConnectionFile()), "connection file")
	if args[0] == "clear" {
		if code, ok := a.parse(fs, args[1:]); !ok {
			return code
		}
		if err := os.Remove(*path); err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintln(a.errOut, "error:", err)
			return exitFailed
		}
		fmt.Fprintf(a.out, "removed %s; restart the worker so it stops using it\n", *path)
		return exitOK
	}
	if args[0] == "show" {
		if code, ok := a.parse(fs, args[1:]); !ok {
			return code
		}
		cfg, err := tableau.ReadConnectionFile(*path)
		if err != nil {
			fmt.Fprintln(a.errOut, "error:", err)
			return exitFailed
		}
		return a.print(cfg, func(w io.Writer) { showConnection(w, *path, cfg) })
	}
	var u tableau.ConnectionUpdate
	var auth, scopes, patSecretFile, jwtSecretFile, passwordFile string
	fs.StringVar(&u.ServerURL, "server-url", "", "Tableau host, e.g. 10ax.online.tableau.com (blank keeps the stored one)")
	fs.StringVar(&u.Site, "site", "", "Site Content URL; always saved: leave it out for the Default site")
	fs.StringVar(&auth, "auth", "", "pat, jwt, password or uat (blank keeps the stored one)")
	fs.StringVar(&u.PATName, "pat-name", "", "Personal Access Token name (blank keeps the stored one)")
	fs.StringVar(&patSecretFile, "pat-secret-file", "", "file holding the PAT secret (- reads standard input); blank keeps the stored secret")
	fs.StringVar(&u.JWTClientID, "jwt-client-id", "", "connected app client ID")
	fs.StringVar(&u.JWTSecretID, "jwt-secret-id", "", "connected app secret ID")
	fs.StringVar(&jwtSecretFile, "jwt-secret-file", "", "file holding the connected app secret value (- reads standard input)")
	fs.StringVar(&u.JWTUsername, "jwt-username", "", "Tableau user the connected app signs in as")
	fs.StringVar(&scopes, "jwt-scopes", "", "comma-separated scopes")
	fs.StringVar(&u.UATPrivateKeyFile, "uat-private-key-file", "", "Unified Access Token: the PEM file of the RSA private key (its path is stored, not the key)")
	fs.StringVar(&u.UATKeyID, "uat-key-id", "", "Unified Access Token: the key ID Tableau knows the public key by")
	fs.StringVar(&u.UATIssuer, "uat-issuer", "", "Unified Access Token: the issuer")
	fs.StringVar(&u.UATTenantID, "uat-tenant-id", "", "Unified Access Token: the tenant ID")
	fs.StringVar(&u.UATUsername, "uat-username", "", "Unified Access Token: the Tableau user it signs in as")
	fs.StringVar(&u.UATUsernameClaim, "uat-username-claim", "", "Unified Access Token: the claim that carries the username (default email)")
	fs.StringVar(&u.Username, "username", "", "username (password auth)")
	fs.StringVar(&passwordFile, "password-file", "", "file holding the password (- reads standard input)")
	fs.StringVar(&u.APIVersion, "api-version", "", "REST API version (default 3.24)")
	fs.StringVar(&u.CAFile, "ca-file", "", "PEM bundle of extra trusted CAs (private Tableau Server CAs)")
	if code, ok := a.parse(fs, args[1:]); !ok {
		return code
	}
	u.Auth = tableau.AuthMethod(auth)
	if scopes != "" {
		u.JWTScopes = strings.Split(scopes, ",")
	}
	var err error
	for _, s := range []struct {
		dst  *string
		file string
	}{{&u.PATSecret, patSecretFile}, {&u.JWTSecret, jwtSecretFile}, {&u.Password, passwordFile}} {
		if *s.dst, err = a.readSecret(s.file); err != nil {
			fmt.Fprintln(a.errOut, "error:", err)
			return exitUsage
		}
	}
	stored, err := tableau.ReadConnectionFile(*path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(a.errOut, "error:", err)
		return exitFailed
	}
	cfg := stored.Apply(u)
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(a.errOut, "error: the connection was not saved:\n  %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return exitUsage
	}
	if err := tableau.WriteConnectionFile(*path, cfg); err != nil {
		fmt.Fprintln(a.errOut, "error:", err)
		return exitFailed
	}
	return a.print(cfg, func(w io.Writer) {
		fmt.Fprintln(w, "saved. Restart the worker to use it (it reads the connection at start-up).")
		showConnection(w, *path, cfg)
	})
}

// readSecret reads a secret from a file or standard input ("-"), never from
// a flag value, which would show in the process list and shell history.
func (a *cli) readSecret(file string) (string, error) {
	switch file {
	case "":
		return "", nil
	case "-":
		line, err := bufio.NewReader(a.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		return strings.TrimRight(line, "\r\n"), nil
	default:
		data, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(data), "\r\n"), nil
	}
}

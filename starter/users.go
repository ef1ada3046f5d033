package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"tabflow/internal/words"
	"tabflow/tableau"
	"tabflow/workflows"
)

// listUsers walks every page of site users, one ListUsers workflow a page
// (each result stays small on a site of any size), and prints each page as it
// arrives: a table, JSON lines (--json) or CSV (--csv).
func (a *cli) listUsers(filter string, pageSize int, asCSV bool) int {
	c, ctx, done, ok := a.connect()
	if !ok {
		return exitFailed
	}
	defer done()
	base := a.workflowID("list-users", "")
	out := newUserPrinter(a.out, a.json, asCSV)
	fetch := func(ctx context.Context, page int) (*tableau.UsersPage, error) {
		var res workflows.ListUsersResult
		id := fmt.Sprintf("%s/page-%d", base, page)
		if err := a.run(ctx, c, workflows.ListUsersWorkflow, id, workflows.ListUsersInput{Filter: filter, PageNumber: page, PageSize: pageSize}, &res); err != nil {
			return nil, &workflowFailure{id: id, err: err}
		}
		return &tableau.UsersPage{Pagination: res.Pagination, Users: res.Users}, nil
	}
	err := tableau.WalkUsers(ctx, pageSize, fetch, out.page)
	out.close()
	if err != nil {
		if wf, ok := err.(*workflowFailure); ok {
			return a.printFailure(ctx, wf.err, wf.id)
		}
		fmt.Fprintln(a.errOut, "error:", err)
		return exitFailed
	}
	return exitOK
}

// workflowFailure carries a page's workflow error through WalkUsers.
type workflowFailure struct {
	id  string
	err error
}

func (f *workflowFailure) Error() string { return f.err.Error() }

// userPrinter prints users page by page, keeping none of them.
type userPrinter struct {
	w     io.Writer
	table *tabwriter.Writer
	csv   *csv.Writer
	json  *json.Encoder
	count int
}

func newUserPrinter(w io.Writer, asJSON, asCSV bool) *userPrinter {
	p := &userPrinter{w: w}
	switch {
	case asJSON:
		p.json = json.NewEncoder(w)
		p.json.SetEscapeHTML(false)
	case asCSV:
		p.csv = csv.NewWriter(w)
		p.csv.Write([]string{"name", "siteRole", "lastLogin", "id", "email", "fullName", "authSetting"})
	default:
		p.table = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(p.table, "NAME\tSITE ROLE\tLAST LOGIN\tID")
	}
	return p
}

func (p *userPrinter) page(users []tableau.User) error {
	for _, u := range users {
		switch {
		case p.json != nil:
			if err := p.json.Encode(u); err != nil {
				return err
			}
		case p.csv != nil:
			p.csv.Write([]string{u.Name, string(u.SiteRole), u.LastLogin, u.ID, u.Email, u.FullName, u.AuthSetting})
		default:
			fmt.Fprintf(p.table, "%s\t%s\t%s\t%s\n", u.Name, u.SiteRole, lastLogin(u), u.ID)
		}
	}
	p.count += len(users)
	return p.flush()
}

func (p *userPrinter) flush() error {
	switch {
	case p.csv != nil:
		p.csv.Flush()
		return p.csv.Error()
	case p.table != nil:
		return p.table.Flush()
	}
	return nil
}

func (p *userPrinter) close() {
	p.flush()
	if p.table != nil {
		fmt.Fprintln(p.w, words.Count(p.count, "user"))
	}
}

func lastLogin(u tableau.User) string {
	if u.LastLogin == "" {
		return "never"
	}
	return u.LastLogin
}

package tableau

import (
	"context"
	"fmt"
	"hash/fnv"
)

// maxListedUsers is a ceiling no real site reaches; a listing that claims
// more is a misbehaving server, not a site to page through for hours.
const maxListedUsers = 2_000_000

// FetchUsersPage reads one page of users (pageNumber from 1).
type FetchUsersPage func(ctx context.Context, pageNumber int) (*UsersPage, error)

// WalkUsers reads pages from 1 and hands each page's users to visit, keeping
// none of them, so memory stays flat whatever the site's size. It stops at
// the end of the listing — an empty or short page, or the total the first
// page announced (later pages cannot raise it) — and refuses to run away on a
// server that misbehaves: a page identical to the previous one (pageNumber
// ignored), or an absurd total, ends the walk with an error.
func WalkUsers(ctx context.Context, pageSize int, fetch FetchUsersPage, visit func([]User) error) error {
	var seen, total int
	var previous uint64
	for page := 1; ; page++ {
		p, err := fetch(ctx, page)
		if err != nil {
			return err
		}
		if page == 1 {
			total = int(p.Pagination.TotalAvailable)
			if total > maxListedUsers {
				return fmt.Errorf("Tableau says the listing has %d users, more than tabflow lists (%d): refusing to page through it", total, maxListedUsers)
			}
		}
		if len(p.Users) == 0 {
			return nil
		}
		sum := pageHash(p.Users)
		if page > 1 && sum == previous {
			return fmt.Errorf("Tableau returned page %d identical to page %d: stopping the listing (the server ignores pageNumber?)", page, page-1)
		}
		previous = sum
		if err := visit(p.Users); err != nil {
			return err
		}
		seen += len(p.Users)
		if len(p.Users) < pageSize || seen >= total {
			return nil
		}
	}
}

func pageHash(users []User) uint64 {
	h := fnv.New64a()
	for _, u := range users {
		h.Write([]byte(u.ID))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

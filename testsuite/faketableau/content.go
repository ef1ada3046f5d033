package faketableau

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Content: workbooks, search and usage statistics.

func (s *Server) listWorkbooks(st *site) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := []any{}
	for _, c := range st.content {
		if c.Type == "workbook" {
			list = append(list, map[string]string{"id": c.LUID, "name": c.Title})
		}
	}
	workbooks := map[string]any{}
	if len(list) > 0 {
		workbooks["workbook"] = list
	}
	return ok(map[string]any{
		"pagination": map[string]string{"pageNumber": "1", "pageSize": "100", "totalAvailable": strconv.Itoa(len(list))},
		"workbooks":  workbooks,
	})
}

func (s *Server) search(r *http.Request, st *site) reply {
	q := r.URL.Query()
	terms := strings.ToLower(q.Get("terms"))
	typeFilter := strings.TrimPrefix(q.Get("filter"), "type:eq:")
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 {
		limit = 10
	}
	page, _ := strconv.Atoi(q.Get("page"))
	s.mu.Lock()
	var hits []any
	for _, c := range st.content {
		if (terms == "" || strings.Contains(strings.ToLower(c.Title), terms)) && (typeFilter == "" || c.Type == typeFilter) {
			hits = append(hits, map[string]any{"uri": "/" + c.Type + "s/" + c.LUID, "content": map[string]any{
				"type": c.Type, "luid": c.LUID, "title": c.Title, "ownerName": c.OwnerName, "totalViewCount": c.Views,
			}})
		}
	}
	s.mu.Unlock()
	start := min(max(page, 0)*limit, len(hits))
	end := min(start+limit, len(hits))
	out := map[string]any{"total": len(hits), "pageIndex": page, "limit": limit, "items": append([]any{}, hits[start:end]...)}
	if end < len(hits) {
		out["next"] = fmt.Sprintf("/api/-/search?terms=%s&page=%d&limit=%d", q.Get("terms"), page+1, limit)
	}
	return ok(map[string]any{"hits": out})
}

func (s *Server) usageStats(r *http.Request, st *site, rest []string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	find := func(typ, luid string) map[string]any {
		for _, c := range st.content {
			if c.LUID == luid && c.Type == typ {
				return map[string]any{"luid": luid, "type": typ, "hitsTotal": c.Views, "hitsLastTwoWeeksTotal": c.Views / 4}
			}
		}
		return nil
	}
	switch {
	case r.Method == http.MethodGet && len(rest) == 2:
		if stats := find(rest[0], rest[1]); stats != nil {
			return ok(stats)
		}
		return fail(404, "404004", "Resource Not Found", fmt.Sprintf("Content %s/%s could not be found.", rest[0], rest[1]))
	case r.Method == http.MethodPost && len(rest) == 0:
		var in struct {
			ContentItems []struct{ LUID, Type string } `json:"content_items"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
			return fail(400, codeBadRequest, "Bad Request", "The request body is not valid JSON.")
		}
		found, unknown := []any{}, []any{}
		for _, it := range in.ContentItems {
			if stats := find(it.Type, it.LUID); stats != nil {
				found = append(found, stats)
			} else {
				unknown = append(unknown, map[string]string{"luid": it.LUID, "type": it.Type})
			}
		}
		return ok(map[string]any{"content_items": found, "unknown": unknown})
	}
	return unknownResource(r)
}

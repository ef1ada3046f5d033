package faketableau

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault makes matching requests misbehave. Zero fields match everything.
type Fault struct {
	Method       string // e.g. "PUT"; empty = any
	PathContains string // e.g. "/auth/signin"; empty = any
	// Times is how many matching requests get the fault; 0 = until removed.
	Times int
	// Rate (0 < Rate < 1) applies the fault to that share of matching
	// requests, drawn from the server's seeded random source; 0 = every one.
	Rate float64

	Latency time.Duration // delay before answering (or before the fault)
	Reset   bool          // close the connection without an answer
	// LoseAnswer carries the request out, then closes the connection
	// without an answer: a change applied whose answer never arrived.
	LoseAnswer bool
	Status     int    // answer with this status instead
	Body       string // with this body (Tableau JSON or anything else)
	// Echo, if set, makes the body from the request's own body, as a
	// misbehaving server or proxy that quotes what it was sent.
	Echo func(request []byte) string
	// Rewrite, if set, carries the request out and answers with the real
	// answer's body rewritten: a Tableau change or a proxy altering it.
	Rewrite func(answer string) string
	// StallBody sends half the body, then waits this long before the rest.
	StallBody time.Duration
	Header    http.Header // and these headers (Retry-After, Location, Content-Type)
	// Refuse answers as though nothing listened: the connection is closed at
	// once, before TLS. Use it for "Tableau is down".
	Refuse bool
	// Notify, if set, receives each request the fault applies to (without
	// blocking), so a test can wait until a call is in the fake.
	Notify chan<- Request
	// Meanwhile, if set, runs while the request is in the fake, before it
	// is answered: an admin's hand edit racing tabflow's own call.
	Meanwhile func()
}

// Common faults, as Tableau and the things in front of it produce them.

// ServerError is a 500 with Tableau's JSON error body.
func ServerError() Fault {
	return Fault{Status: 500, Body: errorJSON("500000", "Internal Server Error", "An unexpected error occurred.")}
}

// HTMLUnavailable is a 503 whose body is a load balancer's HTML page.
func HTMLUnavailable() Fault {
	return Fault{Status: 503, Header: http.Header{"Content-Type": {"text/html"}},
		Body: "<html><head><title>503 Service Temporarily Unavailable</title></head><body><h1>Service Temporarily Unavailable</h1></body></html>"}
}

// RateLimited is a 429 asking the client to wait retryAfter.
func RateLimited(retryAfter time.Duration) Fault {
	return Fault{Status: 429, Header: http.Header{"Retry-After": {strconv.Itoa(int(retryAfter.Round(time.Second) / time.Second))}},
		Body: errorJSON(codeTooManyRequests, "Too Many Requests", "The rate limit was exceeded. Try again later.")}
}

// EndlessUsers answers every user listing with the same full page of
// pageSize users and a total that never runs out: a server that ignores
// pageNumber.
func EndlessUsers(pageSize, total int) Fault {
	users := make([]map[string]string, pageSize)
	for i := range users {
		users[i] = map[string]string{"id": fmt.Sprintf("endless-%d", i), "name": fmt.Sprintf("u%d@example.com", i), "siteRole": "Viewer"}
	}
	body, _ := json.Marshal(map[string]any{
		"pagination": map[string]string{"pageNumber": "1", "pageSize": strconv.Itoa(pageSize), "totalAvailable": strconv.Itoa(total)},
		"users":      map[string]any{"user": users},
	})
	return Fault{Method: "GET", PathContains: "/users", Status: 200, Body: string(body)}
}

type activeFault struct {
	Fault
	remaining int // for Times > 0
	removed   bool
}

// Inject adds a fault and returns a function that removes it.
func (s *Server) Inject(f Fault) (remove func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	af := &activeFault{Fault: f, remaining: f.Times}
	s.faults = append(s.faults, af)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		af.removed = true
	}
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// SetLatency delays every answer by d (on top of any fault's latency).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// takeFault returns the first fault matching r, consuming one of its Times.
func (s *Server) takeFault(r *http.Request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, af := range s.faults {
		if af.removed || (af.Method != "" && af.Method != r.Method) || !strings.Contains(r.URL.Path, af.PathContains) {
			continue
		}
		if af.Rate > 0 && s.rng.Float64() >= af.Rate {
			continue
		}
		if af.Times > 0 {
			af.remaining--
			if af.remaining == 0 {
				af.removed = true
			}
		}
		f := af.Fault
		if f.Notify != nil {
			select {
			case f.Notify <- Request{Method: r.Method, Path: r.URL.Path, Host: r.Host, Endpoint: endpointOf(r), At: time.Now()}:
			default:
			}
		}
		return &f
	}
	return nil
}

// resetConnection drops the TCP connection so the client sees a reset.
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(interface{ NetConn() net.Conn }); ok {
		if tcp, ok := tc.NetConn().(*net.TCPConn); ok {
			tcp.SetLinger(0)
		}
	}
	conn.Close()
}

// refusingListener closes new connections at once while the server is "down".
type refusingListener struct {
	net.Listener
	s *Server
}

func (l refusingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if !l.s.refusing() {
			return c, nil
		}
		if tcp, ok := c.(*net.TCPConn); ok {
			tcp.SetLinger(0)
		}
		c.Close()
	}
}

func (s *Server) refusing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, af := range s.faults {
		if !af.removed && af.Refuse {
			return true
		}
	}
	return false
}

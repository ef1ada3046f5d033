package tableau

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// maxResponseBody bounds what is read of one response (a 1000-user page is
// well under 1 MiB).
const maxResponseBody = 16 << 20

// Client talks to one Tableau site. It holds no session: each unit of work
// signs in, makes its calls and signs out (see WithSession).
type Client struct {
	cfg      Config
	observer Observer
	fleet    FleetLock     // nil: sessions are serialised within this process only
	nextPAT  atomic.Uint32 // round-robin start in the PAT pool
	timeout  time.Duration // one request, body included
	http     *http.Client
	logger   *slog.Logger
	now      func() time.Time
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient uses hc's transport (tests point it at a fake Tableau).
// Redirects are still never followed automatically.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.http.Transport = hc.Transport }
}

// WithLogger logs one debug line per HTTP call (method, path, status,
// duration; never a token or secret).
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.logger = l } }

// NewClient validates cfg and prepares HTTPS with certificate verification,
// trusting cfg.CAFile in addition to the system roots.
func NewClient(cfg Config, opts ...Option) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pool, err := loadCAFile(cfg.CAFile)
		if err != nil {
			return nil, err
		}
		transport.TLSClientConfig.RootCAs = pool
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	c := &Client{
		cfg:     cfg,
		timeout: timeout,
		http: &http.Client{
			Transport: transport,
			// Sign-in redirects are followed by hand, under SPEC §2's rules;
			// any other redirect is returned as it is.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		logger:   slog.New(slog.DiscardHandler),
		observer: nopObserver{},
		now:      time.Now,
	}
	// Each process starts its round-robin of the PAT pool at a PAT of its
	// own, so the replicas of a fleet do not all queue for the first one.
	c.nextPAT.Store(uint32(mrand.IntN(1 << 16)))
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

func loadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}

// Config returns the connection the client was made with.
func (c *Client) Config() Config { return c.cfg }

func (c *Client) baseURL() *url.URL { return &url.URL{Scheme: "https", Host: c.cfg.ServerURL} }

func (c *Client) versioned(base *url.URL, rest string) *url.URL {
	return base.JoinPath("api", c.cfg.apiVersion(), rest)
}

// rawResponse is what send returns: status, headers and the whole body.
type rawResponse struct {
	*http.Response
	body []byte
}

// send makes one HTTP request. Transport failures become UnreachableError;
// HTTP errors are left to the caller, which knows how to word them.
func (c *Client) send(ctx context.Context, method string, u *url.URL, body []byte, token Secret) (*rawResponse, error) {
	// The request's own deadline, body included, is checked after the body
	// is read too: a cancelled stream may end without a read error.
	reqCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx = reqCtx
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), reader)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "tabflow")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !token.IsZero() {
		req.Header.Set("X-Tableau-Auth", token.reveal())
	}
	start := c.now()
	resp, err := c.http.Do(req)
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	c.observer.TableauRequest(method, RouteTemplate(u.Path), status, c.now().Sub(start))
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is already in the host we name
		}
		if strings.HasPrefix(err.Error(), "failed to parse Location header") {
			// net/http reads Location before our CheckRedirect sees it.
			return nil, &RedirectError{From: u.Host, To: "(unparsable)", Reason: "not a valid URL"}
		}
		return nil, &UnreachableError{Host: u.Host, Err: errors.New(scrub(err.Error(), maxErrorBody, c.cfg.secrets()...))}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, &UnreachableError{Host: u.Host, Err: fmt.Errorf("reading the response to %s %s: %v", method, u.Path, err)}
	}
	if len(data) > maxResponseBody {
		return nil, fmt.Errorf("Tableau %s %s: response larger than %d bytes", method, u.Path, maxResponseBody)
	}
	c.logger.LogAttrs(ctx, slog.LevelDebug, "tableau call",
		slog.String("method", method), slog.String("path", u.Path),
		slog.Int("status", resp.StatusCode), slog.Duration("took", c.now().Sub(start)))
	return &rawResponse{Response: resp, body: data}, nil
}

// Response is the status and headers of a successful call made with Do.
type Response struct {
	StatusCode int
	Header     http.Header
}

// decodeInto decodes a successful body into out (if any); a body it cannot
// decode is quoted, scrubbed of secrets, in the error.
func decodeInto(r *rawResponse, out any, secrets ...Secret) error {
	if out == nil || len(bytes.TrimSpace(r.body)) == 0 {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = append((*raw)[:0], r.body...)
		if !json.Valid(r.body) {
			return fmt.Errorf("Tableau %s %s returned a body that is not JSON: %s", r.Request.Method, r.Request.URL.Path, scrub(string(r.body), maxErrorBody, secrets...))
		}
		return nil
	}
	if err := json.Unmarshal(r.body, out); err != nil {
		return fmt.Errorf("Tableau %s %s returned an unexpected body (%v): %s", r.Request.Method, r.Request.URL.Path, err, scrub(string(r.body), maxErrorBody, secrets...))
	}
	return nil
}

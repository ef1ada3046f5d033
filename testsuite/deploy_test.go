package testsuite

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8syaml "sigs.k8s.io/yaml"
)

// The Dockerfile, the Kubernetes manifest and the compose file describe one
// worker and one Temporal: they must agree with each other, with the images
// they name (as far as their sources, in the module cache, say) and with
// go.mod. No Docker engine or cluster runs here, so this is as close to
// starting them as a test gets; what only a daemon or a kubelet shows is
// listed in docs/operations.md.

// dockerfile is what the worker image is, read from ../Dockerfile.
type dockerfile struct {
	user       string // USER of the final stage
	binary     string // where the worker lands (COPY … /worker)
	exposed    []string
	healthTest []string
}

func readDockerfile(t *testing.T) dockerfile {
	data, err := os.ReadFile("../Dockerfile")
	require.NoError(t, err)
	var d dockerfile
	for l := range strings.Lines(string(data)) {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "USER":
			d.user = f[1]
		case "COPY":
			if slices.Contains(f, "--from=build") {
				d.binary = f[len(f)-1]
			}
		case "EXPOSE":
			d.exposed = f[1:]
		case "HEALTHCHECK":
			_, cmd, _ := strings.Cut(l, "CMD ")
			require.NoError(t, json.Unmarshal([]byte(cmd), &d.healthTest), "HEALTHCHECK CMD in exec form")
		}
	}
	return d
}

// readManifest decodes deploy/kubernetes.yaml into Kubernetes' own API
// types, strictly: a misspelt or misplaced field fails, as the API
// server's validation would.
func readManifest(t *testing.T) (*corev1.Secret, *appsv1.Deployment) {
	data, err := os.ReadFile("../deploy/kubernetes.yaml")
	require.NoError(t, err)
	var secret *corev1.Secret
	var deployment *appsv1.Deployment
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		raw, err := json.Marshal(doc)
		require.NoError(t, err)
		switch doc["kind"] {
		case "Secret":
			secret = &corev1.Secret{}
			require.NoError(t, k8syaml.UnmarshalStrict(raw, secret))
		case "Deployment":
			deployment = &appsv1.Deployment{}
			require.NoError(t, k8syaml.UnmarshalStrict(raw, deployment))
		default:
			t.Fatalf("unexpected kind %v", doc["kind"])
		}
	}
	require.NotNil(t, secret)
	require.NotNil(t, deployment)
	return secret, deployment
}

// moduleDir is where the module cache holds mod at go.mod's version.
func moduleDir(t *testing.T, mod string) (dir, version string) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Version}}", mod).Output()
	require.NoError(t, err, "go list -m %s", mod)
	dir, version, _ = strings.Cut(strings.TrimSpace(string(out)), " ")
	return dir, strings.TrimPrefix(version, "v")
}

func TestDeployFilesAgree(t *testing.T) {
	image := readDockerfile(t)
	_, deployment := readManifest(t)
	pod := deployment.Spec.Template.Spec
	require.Len(t, pod.Containers, 1)
	worker := pod.Containers[0]

	t.Run("the image's user is one the kubelet can check", func(t *testing.T) {
		// runAsNonRoot with a user name (nonroot) and no runAsUser: the
		// kubelet refuses to start the container ("image has non-numeric
		// user … cannot verify user is non-root").
		uid, _, _ := strings.Cut(image.user, ":")
		n, err := strconv.Atoi(uid)
		require.NoError(t, err, "USER %q must be numeric", image.user)
		assert.NotZero(t, n, "not root")
		sc := pod.SecurityContext
		require.NotNil(t, sc)
		require.NotNil(t, sc.RunAsNonRoot)
		assert.True(t, *sc.RunAsNonRoot)
		require.NotNil(t, sc.RunAsUser, "runAsUser set, so the check never depends on the image")
		assert.Equal(t, int64(n), *sc.RunAsUser, "the manifest runs as the image's user")
	})

	t.Run("probes reach the worker's HTTP address", func(t *testing.T) {
		env := map[string]string{}
		for _, e := range worker.Env {
			env[e.Name] = e.Value
		}
		_, port, _ := strings.Cut(env["TABFLOW_HTTP_ADDRESS"], ":")
		require.NotEmpty(t, port, "TABFLOW_HTTP_ADDRESS")
		var named = map[string]int32{}
		for _, p := range worker.Ports {
			named[p.Name] = p.ContainerPort
		}
		for probe, want := range map[*corev1.Probe]string{worker.LivenessProbe: "/healthz", worker.ReadinessProbe: "/readyz"} {
			require.NotNil(t, probe)
			require.NotNil(t, probe.HTTPGet)
			assert.Equal(t, want, probe.HTTPGet.Path)
			p := probe.HTTPGet.Port
			if p.Type == intstr.String {
				p = intstr.FromInt32(named[p.StrVal])
			}
			assert.Equal(t, port, p.String(), "%s on TABFLOW_HTTP_ADDRESS's port", want)
		}
		assert.Equal(t, []string{port}, image.exposed, "the image exposes it")
		assert.Equal(t, "http://127.0.0.1:"+port+"/readyz", image.healthTest[len(image.healthTest)-1])
		assert.Equal(t, image.binary, image.healthTest[0], "the image's healthcheck runs the worker binary")
	})

	t.Run("every compose healthcheck runs a binary its image has", func(t *testing.T) {
		var c composeFile
		data, err := os.ReadFile("../docker-compose.yml")
		require.NoError(t, err)
		require.NoError(t, yaml.Unmarshal(data, &c))
		serverDir, serverVersion := moduleDir(t, "go.temporal.io/server")
		server, err := os.ReadFile(filepath.Join(serverDir, "docker/targets/server.Dockerfile"))
		require.NoError(t, err)
		serverBinaries := imageBinaries(t, string(server))
		assert.True(t, serverBinaries["temporal-server"])
		assert.False(t, serverBinaries["temporal"], "no temporal CLI in the server image since 1.27")

		binaries := map[string]map[string]bool{
			"temporal":   serverBinaries,
			"worker":     {image.binary: true},
			"postgresql": {"pg_isready": true}, // part of every postgres image
		}
		for name, s := range c.Services {
			test := s.Healthcheck.Test
			if len(test) == 0 {
				continue
			}
			require.Contains(t, binaries, name, "a healthcheck on %s: say what its image has", name)
			var bin string
			switch test[0] {
			case "CMD":
				bin = test[1]
			case "CMD-SHELL":
				bin = strings.Fields(test[1])[0]
			}
			assert.True(t, binaries[name][bin], "%s's healthcheck runs %q, which its image lacks", name, bin)
		}

		// The temporal healthcheck asks the frontend's HTTP API on the port
		// the image's embedded configuration gives it.
		template, err := os.ReadFile(filepath.Join(serverDir, "common/config/config_template_embedded.yaml"))
		require.NoError(t, err)
		httpPort := regexp.MustCompile(`default "(\d+)" \(env "FRONTEND_HTTP_PORT"\)`).FindStringSubmatch(string(template))
		require.Len(t, httpPort, 2)
		assert.Contains(t, c.Services["temporal"].Healthcheck.Test, "http://127.0.0.1:"+httpPort[1]+"/api/v1/cluster-info")

		_, uiVersion := moduleDir(t, "github.com/temporalio/ui-server/v2")
		for name, want := range map[string]string{
			"temporal":           "temporalio/server:${TEMPORAL_VERSION:-" + serverVersion + "}",
			"temporal-schema":    "temporalio/admin-tools:${TEMPORAL_ADMIN_TOOLS_VERSION:-" + serverVersion + "}",
			"temporal-namespace": "temporalio/admin-tools:${TEMPORAL_ADMIN_TOOLS_VERSION:-" + serverVersion + "}",
			"temporal-ui":        "temporalio/ui:${TEMPORAL_UI_VERSION:-" + uiVersion + "}",
		} {
			assert.Equal(t, want, c.Services[name].Image, "%s: the version go.mod builds and tests", name)
		}
	})
}

// imageBinaries are what a Dockerfile copies into /usr/local/bin, and, on
// Alpine, the busybox applets a healthcheck may use.
func imageBinaries(t *testing.T, dockerfile string) map[string]bool {
	bins := map[string]bool{}
	for l := range strings.Lines(dockerfile) {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "COPY" && f[len(f)-1] == "/usr/local/bin/" {
			bins[filepath.Base(f[len(f)-2])] = true
		}
		if len(f) >= 2 && f[0] == "FROM" && strings.HasPrefix(f[1], "alpine") {
			for _, applet := range []string{"sh", "wget", "nc"} {
				bins[applet] = true
			}
		}
	}
	require.NotEmpty(t, bins, "no binaries found in the server's Dockerfile")
	return bins
}

package testsuite

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"tabflow/tableau"
)

// No Docker engine runs where the tests do, so the compose file is checked
// by reading it: the worker must get everything it needs, and the ports
// people are told about must be the ones published.

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		EnvFile     any               `yaml:"env_file"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Volumes     []string `yaml:"volumes"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		Command []string `yaml:"command"`
		Deploy  struct {
			Replicas int `yaml:"replicas"`
		} `yaml:"deploy"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "line %q", line)
		env[k] = v
	}
	return env
}

func TestComposeRunsTheWorkerWithEverythingItNeeds(t *testing.T) {
	data, err := os.ReadFile("../docker-compose.yml")
	require.NoError(t, err)
	var c composeFile
	require.NoError(t, yaml.Unmarshal(data, &c))

	for _, name := range []string{"postgresql", "temporal-schema", "temporal", "temporal-namespace", "temporal-ui", "worker"} {
		require.Contains(t, c.Services, name)
	}
	for name, s := range c.Services {
		assert.NotContains(t, s.Image, "auto-setup", "%s: the deprecated image is gone", name)
	}
	worker := c.Services["worker"]
	assert.Equal(t, ".", worker.Build, "the worker is built from this repository")
	assert.Equal(t, ".env", worker.EnvFile, "the worker gets every variable of .env")
	assert.Equal(t, "temporal:7233", worker.Environment["TEMPORAL_ADDRESS"], "the worker reaches Temporal by its service name")
	assert.NotEmpty(t, worker.Environment["TEMPORAL_NAMESPACE"])
	assert.Equal(t, "service_healthy", worker.DependsOn["temporal"].Condition)
	assert.Equal(t, "service_completed_successfully", worker.DependsOn["temporal-namespace"].Condition, "the namespace exists before a worker polls it")
	assert.Equal(t, 2, worker.Deploy.Replicas, "two replicas sharing one PAT, as testsuite/topology runs them")
	assert.Equal(t, []string{"CMD", "/worker", "probe", "http://127.0.0.1:9090/readyz"}, worker.Healthcheck.Test, "the worker's readiness is its health")
	assert.Equal(t, ":9090", worker.Environment["TABFLOW_HTTP_ADDRESS"])

	assert.Equal(t, []string{"7233:7233"}, c.Services["temporal"].Ports)
	assert.Equal(t, []string{"8080:8080"}, c.Services["temporal-ui"].Ports)
	assert.Equal(t, "temporal:7233", c.Services["temporal-ui"].Environment["TEMPORAL_ADDRESS"])
	temporal := c.Services["temporal"]
	assert.Equal(t, "postgres12", temporal.Environment["DB"], "Temporal persists to PostgreSQL")
	assert.Equal(t, "postgresql", temporal.Environment["POSTGRES_SEEDS"])
	assert.Equal(t, "service_completed_successfully", temporal.DependsOn["temporal-schema"].Condition, "the schema is set up first")
	// The databases and schema steps testsuite/topology uses (temporalserver setup-schema).
	assert.Equal(t, "tabflow_temporal", temporal.Environment["DBNAME"])
	assert.Equal(t, "tabflow_temporal_visibility", temporal.Environment["VISIBILITY_DBNAME"])
	schema := strings.Join(c.Services["temporal-schema"].Command, "\n")
	for _, step := range []string{"create-database", "setup-schema -v 0.0", "update-schema --schema-name postgresql/v12/$$schema", "tabflow_temporal:temporal", "tabflow_temporal_visibility:visibility"} {
		assert.Contains(t, schema, step)
	}
	assert.Contains(t, strings.Join(c.Services["temporal-namespace"].Command, "\n"), "temporal operator namespace create")
	assert.Contains(t, c.Services["postgresql"].Volumes[0], "temporal-postgres:")
	assert.Contains(t, c.Volumes, "temporal-postgres")
}

func TestEnvExampleIsAWorkingWorkerConfig(t *testing.T) {
	env := readEnvFile(t, "../.env.example")
	// What compose adds on top of .env for the worker.
	env["TEMPORAL_ADDRESS"] = "temporal:7233"
	cfg, err := tableau.LoadConfig("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	require.NoError(t, err, ".env.example, as shipped, passes the worker's start-up validation")
	assert.Equal(t, tableau.AuthPAT, cfg.Auth)
	assert.Equal(t, "Tableau (acme-analytics)", cfg.DisplayName())
	assert.True(t, strings.HasPrefix(env["TABLEAU_PAT_SECRET"], "replace-with"), "no real secret is shipped")

	delete(env, "TABLEAU_PAT_SECRET")
	_, err = tableau.LoadConfig("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	assert.EqualError(t, err, "Personal Access Token secret is required")
}

func TestDockerfileBuildsTheWorker(t *testing.T) {
	data, err := os.ReadFile("../Dockerfile")
	require.NoError(t, err)
	lines := strings.Split(string(data), "\n")
	assert.True(t, slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "go build") && strings.HasSuffix(l, "./worker") }))
	assert.Contains(t, string(data), `ENTRYPOINT ["/worker"]`)
	assert.Contains(t, string(data), "FROM gcr.io/distroless/static", "on a minimal base")
	ignore, err := os.ReadFile("../.dockerignore")
	require.NoError(t, err)
	assert.Contains(t, string(ignore), ".env", "the credential file stays out of the image")
}

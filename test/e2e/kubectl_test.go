package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// The application the kubectl scenario manages, one manifest per object.
const (
	deploymentManifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
`
	serviceManifest = `apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    app: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 80
`
	configMapManifest = `apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  labels:
    app: web
data:
  color: blue
`
	secretManifest = `apiVersion: v1
kind: Secret
metadata:
  name: web-secret
  labels:
    app: web
data:
  password: czNjcmV0
`
)

// manifests is the whole application as one multi-document file. Every
// object has the label app=web, which the scenario selects by, so objects
// that controllers add to namespaces do not disturb it.
var manifests = strings.Join([]string{deploymentManifest, serviceManifest, configMapManifest, secretManifest}, "---\n")

// mismatchedDeployment's selector does not select its own pod template.
const mismatchedDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: bad
spec:
  selector:
    matchLabels:
      app: one
  template:
    metadata:
      labels:
        app: two
    spec:
      containers:
      - name: c
        image: busybox
`

// ssaConfig is applied with server-side apply; %s is the value of key.
const ssaConfig = `apiVersion: v1
kind: ConfigMap
metadata:
  name: ssa-config
data:
  key: %s
`

// editScript is a KUBE_EDITOR that turns the color red into green.
const editScript = "#!/bin/sh\nsed -i 's/color: red/color: green/' \"$1\"\n"

func TestKubectl(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		s := startServer(t)
		kubectlScenario(t, s, s.kubectlWith(kubectlPath(t)))
	})
	t.Run("1.27", func(t *testing.T) {
		bin := versionedKubectl(t, "1.27")
		if bin == "" {
			t.Skip("kubectl.1.27 is not installed beside kubectl")
		}
		s := startServer(t)
		kubectlScenario(t, s, s.kubectlWith(bin))
	})
}

// TestKubectlVersions runs a few commands with every other versioned
// kubectl that is installed.
func TestKubectlVersions(t *testing.T) {
	bins := map[string]string{}
	for _, v := range kubectlVersions[1:] {
		if bin := versionedKubectl(t, v); bin != "" {
			bins[v] = bin
		}
	}
	if len(bins) == 0 {
		t.Skipf("no kubectl.<version> for %q is installed beside kubectl", kubectlVersions[1:])
	}
	s := startServer(t)
	for _, v := range kubectlVersions[1:] {
		t.Run(v, func(t *testing.T) {
			if bins[v] == "" {
				t.Skipf("kubectl.%s is not installed beside kubectl", v)
			}
			kubectlSmoke(t, s, s.kubectlWith(bins[v]), "v"+strings.ReplaceAll(v, ".", "-"))
		})
	}
}

// kubectlSmoke checks version, namespace and ConfigMap round trips and
// discovery with k, in namespace ns.
func kubectlSmoke(t *testing.T, s *server, k kubectlCmd, ns string) {
	var version struct {
		ServerVersion struct{ GitVersion string } `json:"serverVersion"`
	}
	if err := json.Unmarshal([]byte(k.run(t, "version", "-o", "json")), &version); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(version.ServerVersion.GitVersion, "v1.") {
		t.Errorf("server gitVersion = %q, want v1.*", version.ServerVersion.GitVersion)
	}
	wantOutput(t, k.run(t, "create", "namespace", ns), "namespace/"+ns+" created")
	file := writeFile(t, "cm.yaml", configMapManifest)
	wantOutput(t, k.run(t, "apply", "-n", ns, "-f", file), "configmap/web-config created")
	wantOutput(t, k.run(t, "get", "cm", "web-config", "-n", ns, "-o", "custom-columns=NAME:.metadata.name,COLOR:.data.color"),
		"NAME COLOR", "web-config blue")
	if !hasRow(k.run(t, "api-resources"), "deployments", "deploy", "apps/v1", "true", "Deployment") {
		t.Error("api-resources has no row: deployments deploy apps/v1 true Deployment")
	}
	wantOutput(t, k.run(t, "delete", "cm", "web-config", "-n", ns), `configmap "web-config" deleted`)
}

// kubectlScenario is the life of an application as a kubectl user sees it.
// The steps run in order and build on each other.
func kubectlScenario(t *testing.T, s *server, k kubectlCmd) {
	const ns = "shop"
	manifest := writeFile(t, "app.yaml", manifests)
	withNS := func(args ...string) []string { return append(args, "-n", ns) }

	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, f) && (name == "create namespace" || name == "apply") {
			t.Fatalf("step %q failed; the later steps need it", name)
		}
	}

	step("create namespace", func(t *testing.T) {
		wantOutput(t, k.run(t, "create", "namespace", ns), "namespace/shop created")
		wantOutput(t, k.run(t, "get", "namespace", ns, "-o", "jsonpath={.status.phase}"), "Active")
		r := k.runErr(t, "create", "namespace", ns)
		wantStderr(t, r, `Error from server (AlreadyExists): namespaces "shop" already exists`)
	})

	step("apply", func(t *testing.T) {
		wantOutput(t, k.run(t, withNS("apply", "-f", manifest)...),
			"deployment.apps/web created", "service/web created", "configmap/web-config created", "secret/web-secret created")
	})

	step("apply again", func(t *testing.T) {
		wantOutput(t, k.run(t, withNS("apply", "-f", manifest)...),
			"deployment.apps/web unchanged", "service/web unchanged", "configmap/web-config unchanged", "secret/web-secret unchanged")
	})

	step("get", func(t *testing.T) {
		getOutputs(t, k, ns)
	})

	step("describe", func(t *testing.T) {
		out := k.run(t, withNS("describe", "deployment", "web")...)
		wantMatch(t, out, `(?m)^Name:\s+web$`, `(?m)^Namespace:\s+shop$`, `(?m)^Selector:\s+app=web$`,
			`(?m)^Replicas:\s+2 desired`, `(?m)^\s+Image:\s+nginx:1\.25$`, `(?m)^StrategyType:\s+RollingUpdate$`)
		out = k.run(t, withNS("describe", "configmap", "web-config")...)
		wantMatch(t, out, `(?m)^Name:\s+web-config$`, `(?m)^color:\n-+\nblue$`)
	})

	step("label", func(t *testing.T) {
		wantOutput(t, k.run(t, withNS("label", "deployment", "web", "tier=frontend")...), "deployment.apps/web labeled")
		wantOutput(t, k.run(t, withNS("get", "deployments", "-l", "tier=frontend", "-o", "name")...), "deployment.apps/web")
		wantOutput(t, k.run(t, withNS("get", "deployments", "-l", "tier=backend", "-o", "name")...))
	})

	step("annotate", func(t *testing.T) {
		// kubectl 1.27 says "annotate", later ones "annotated".
		wantMatch(t, k.run(t, withNS("annotate", "deployment", "web", "owner=team-a")...), `^deployment\.apps/web annotated?\n$`)
		wantOutput(t, k.run(t, withNS("get", "deployment", "web", "-o", "jsonpath={.metadata.annotations.owner}")...), "team-a")
	})

	step("patch", func(t *testing.T) {
		// A strategic merge patch merges the containers list by name: the
		// port, which the patch does not mention, stays.
		wantOutput(t, k.run(t, withNS("patch", "deployment", "web", "-p",
			`{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.26"}]}}}}`)...),
			"deployment.apps/web patched")
		wantOutput(t, k.run(t, withNS("get", "deployment", "web", "-o",
			"jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort}")...),
			"nginx:1.26 80")

		wantOutput(t, k.run(t, withNS("patch", "configmap", "web-config", "--type=merge", "-p", `{"data":{"size":"large"}}`)...),
			"configmap/web-config patched")
		wantOutput(t, k.run(t, withNS("patch", "configmap", "web-config", "--type=json", "-p",
			`[{"op":"replace","path":"/data/color","value":"red"}]`)...), "configmap/web-config patched")
		wantOutput(t, k.run(t, withNS("get", "configmap", "web-config", "-o", "jsonpath={.data.color} {.data.size}")...), "red large")

		// A JSON patch whose test fails changes nothing.
		r := k.runErr(t, withNS("patch", "configmap", "web-config", "--type=json", "-p",
			`[{"op":"test","path":"/data/color","value":"blue"},{"op":"remove","path":"/data/size"}]`)...)
		wantStderr(t, r, "The request is invalid: the server rejected our request due to an error in our request")
		wantOutput(t, k.run(t, withNS("get", "configmap", "web-config", "-o", "jsonpath={.data.color} {.data.size}")...), "red large")
	})

	step("edit", func(t *testing.T) {
		editor := writeFile(t, "editor.sh", editScript)
		if err := os.Chmod(editor, 0o755); err != nil {
			t.Fatal(err)
		}
		r := k.exec(t, []string{"KUBE_EDITOR=" + editor}, withNS("edit", "configmap", "web-config")...)
		if r.code != 0 {
			t.Fatalf("kubectl edit: %s", r)
		}
		wantOutput(t, r.stdout, "configmap/web-config edited")
		wantOutput(t, k.run(t, withNS("get", "configmap", "web-config", "-o", "jsonpath={.data.color}")...), "green")
	})

	step("scale", func(t *testing.T) {
		wantOutput(t, k.run(t, withNS("scale", "deployment", "web", "--replicas=3")...), "deployment.apps/web scaled")
		wantOutput(t, k.run(t, withNS("get", "deployment", "web", "-o", "jsonpath={.spec.replicas}")...), "3")
	})

	step("diff", func(t *testing.T) {
		// The live objects now differ from the manifests: replicas, image
		// and color were changed by the steps above.
		r := k.exec(t, nil, withNS("diff", "-f", manifest)...)
		if r.code != 1 {
			t.Fatalf("kubectl diff against changed objects: want exit 1 with a diff, got %s", r)
		}
		wantMatch(t, r.stdout, `(?m)^-\s+replicas: 3$`, `(?m)^\+\s+replicas: 2$`,
			`(?m)^-\s+- image: nginx:1\.26$|^-\s+image: nginx:1\.26$`, `(?m)^-\s+color: green$`, `(?m)^\+\s+color: blue$`)

		wantOutput(t, k.run(t, withNS("apply", "-f", manifest)...),
			"deployment.apps/web configured", "service/web unchanged", "configmap/web-config configured", "secret/web-secret unchanged")
		r = k.exec(t, nil, withNS("diff", "-f", manifest)...)
		if r.code != 0 || r.stdout != "" {
			t.Fatalf("kubectl diff against applied objects: want exit 0 and no output, got %s", r)
		}
	})

	step("apply server-side", func(t *testing.T) {
		serverSideApply(t, k, ns)
	})

	step("explain", func(t *testing.T) {
		r := k.exec(t, nil, "explain", "deployment.spec.replicas")
		if r.code != 0 {
			t.Fatalf("kubectl explain: %s", r)
		}
		wantMatch(t, r.stdout, `(?m)^KIND:\s+Deployment$`, `(?m)^VERSION:\s+(apps/)?v1$`, `(?m)^FIELD:\s+replicas\s+<integer>$`)
	})

	step("api-resources", func(t *testing.T) {
		out := k.run(t, "api-resources")
		wantOutputLine(t, out, "NAME SHORTNAMES APIVERSION NAMESPACED KIND")
		for _, row := range [][]string{
			{"deployments", "deploy", "apps/v1", "true", "Deployment"},
			{"configmaps", "cm", "v1", "true", "ConfigMap"},
			{"namespaces", "ns", "v1", "false", "Namespace"},
		} {
			if !hasRow(out, row...) {
				t.Errorf("api-resources has no row %q:\n%s", row, out)
			}
		}
		cluster := lines(k.run(t, "api-resources", "--namespaced=false", "-o", "name"))
		if !contains(cluster, "namespaces") || contains(cluster, "configmaps") {
			t.Errorf("api-resources --namespaced=false -o name: want namespaces and not configmaps, got %q", cluster)
		}
	})

	step("get -w", func(t *testing.T) {
		w := k.start(t, withNS("get", "configmaps", "-w", "--output-watch-events")...)
		w.waitForLine(t, "ADDED", "web-config")
		k.run(t, withNS("create", "configmap", "watched", "--from-literal=a=b")...)
		w.waitForLine(t, "ADDED", "watched")
		k.run(t, withNS("label", "configmap", "watched", "seen=yes")...)
		w.waitForLine(t, "MODIFIED", "watched")
		k.run(t, withNS("delete", "configmap", "watched")...)
		w.waitForLine(t, "DELETED", "watched")
	})

	step("create secret", func(t *testing.T) {
		wantOutput(t, k.run(t, withNS("create", "secret", "generic", "creds", "--from-literal=username=admin", "--from-literal=password=p@ss w0rd!")...),
			"secret/creds created")
		out := k.run(t, withNS("get", "secret", "creds", "-o", "jsonpath={.type} {.data.password}")...)
		typ, enc, _ := strings.Cut(out, " ")
		pw, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			t.Fatalf("decoding %q: %v", enc, err)
		}
		if diff := cmp.Diff("Opaque p@ss w0rd!", typ+" "+string(pw)); diff != "" {
			t.Errorf("secret type and password (-want +got):\n%s", diff)
		}
	})

	step("delete", func(t *testing.T) {
		out := k.run(t, withNS("delete", "-f", manifest)...)
		wantMatch(t, out, `(?m)^deployment\.apps "web" deleted`, `(?m)^service "web" deleted`,
			`(?m)^configmap "web-config" deleted`, `(?m)^secret "web-secret" deleted`)
		for _, obj := range []struct{ kind, name, message string }{
			{"deployment", "web", `deployments.apps "web" not found`},
			{"service", "web", `services "web" not found`},
			{"configmap", "web-config", `configmaps "web-config" not found`},
			{"secret", "web-secret", `secrets "web-secret" not found`},
		} {
			wantStderr(t, k.runErr(t, withNS("get", obj.kind, obj.name)...), "Error from server (NotFound): "+obj.message)
		}
	})

	step("errors", func(t *testing.T) {
		wantStderr(t, k.runErr(t, "get", "pod", "nope"), `Error from server (NotFound): pods "nope" not found`)

		bad := writeFile(t, "bad.yaml", mismatchedDeployment)
		r := k.runErr(t, withNS("create", "-f", bad, "-v=6")...)
		wantMatch(t, r.stderr, `POST https://\S+/apis/apps/v1/namespaces/shop/deployments\S* 422 Unprocessable Entity`,
			`The Deployment "bad" is invalid`)
		wantStderr(t, k.runErr(t, withNS("get", "deployment", "bad")...), `Error from server (NotFound): deployments.apps "bad" not found`)
	})
}

// getOutputs checks the objects of the manifests in every output format.
func getOutputs(t *testing.T, k kubectlCmd, ns string) {
	get := func(args ...string) string {
		t.Helper()
		return k.run(t, append([]string{"get", "-n", ns}, args...)...)
	}
	t.Run("table", func(t *testing.T) {
		row := wantTable(t, get("deployments", "-l", "app=web"), []string{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"}, []string{"web"})
		if row != nil && !regexp.MustCompile(`^\d+/2$`).MatchString(row[1]) {
			t.Errorf("READY = %q, want */2", row[1])
		}
		row = wantTable(t, get("services", "-l", "app=web"), []string{"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"}, []string{"web", "ClusterIP"})
		if row != nil && row[4] != "80/TCP" {
			t.Errorf("PORT(S) = %q, want 80/TCP", row[4])
		}
		wantTable(t, get("configmaps", "web-config"), []string{"NAME", "DATA", "AGE"}, []string{"web-config", "1"})
		wantTable(t, get("secrets", "web-secret"), []string{"NAME", "TYPE", "DATA", "AGE"}, []string{"web-secret", "Opaque", "1"})
	})
	t.Run("wide", func(t *testing.T) {
		wantTable(t, get("deployments", "-l", "app=web", "-o", "wide"),
			[]string{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"},
			[]string{"web"}, "nginx", "nginx:1.25", "app=web")
	})
	t.Run("yaml", func(t *testing.T) {
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(get("deployment", "web", "-o", "yaml")), &d); err != nil {
			t.Fatal(err)
		}
		checkDeployment(t, &d)
	})
	t.Run("json", func(t *testing.T) {
		var d appsv1.Deployment
		if err := json.Unmarshal([]byte(get("deployment", "web", "-o", "json")), &d); err != nil {
			t.Fatal(err)
		}
		checkDeployment(t, &d)
		var list struct {
			Kind  string
			Items []metav1.PartialObjectMetadata
		}
		if err := json.Unmarshal([]byte(get("deployments,services,configmaps,secrets", "-l", "app=web", "-o", "json")), &list); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range list.Items {
			got = append(got, it.Kind+"/"+it.Name)
		}
		if diff := cmp.Diff("List", list.Kind); diff != "" {
			t.Errorf("kind (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"Deployment/web", "Service/web", "ConfigMap/web-config", "Secret/web-secret"}, got); diff != "" {
			t.Errorf("items (-want +got):\n%s", diff)
		}
	})
	t.Run("name", func(t *testing.T) {
		wantOutput(t, get("deployments,services,configmaps,secrets", "-l", "app=web", "-o", "name"),
			"deployment.apps/web", "service/web", "configmap/web-config", "secret/web-secret")
	})
	t.Run("jsonpath", func(t *testing.T) {
		wantOutput(t, get("deployment", "web", "-o", "jsonpath={.metadata.name} {.spec.replicas} {.spec.template.spec.containers[0].image}"),
			"web 2 nginx:1.25")
		wantOutput(t, get("configmaps", "-l", "app=web", "-o", `jsonpath={range .items[*]}{.metadata.name}={.data.color}{"\n"}{end}`),
			"web-config=blue")
	})
	t.Run("custom-columns", func(t *testing.T) {
		wantOutput(t, get("deployments", "-l", "app=web", "-o", "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas,IMAGE:.spec.template.spec.containers[*].image"),
			"NAME REPLICAS IMAGE", "web 2 nginx:1.25")
	})
}

// checkDeployment checks what the server stored for the web Deployment:
// the manifest, server-set metadata and defaults.
func checkDeployment(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	if d.UID == "" || d.ResourceVersion == "" || d.CreationTimestamp.IsZero() || d.Generation != 1 {
		t.Errorf("server-set metadata missing: uid %q resourceVersion %q creationTimestamp %v generation %d",
			d.UID, d.ResourceVersion, d.CreationTimestamp, d.Generation)
	}
	c := d.Spec.Template.Spec.Containers
	got := []string{d.Name, d.Namespace, string(d.Spec.Strategy.Type)}
	if len(c) == 1 {
		got = append(got, c[0].Image, string(c[0].ImagePullPolicy))
	}
	if diff := cmp.Diff([]string{"web", "shop", "RollingUpdate", "nginx:1.25", "IfNotPresent"}, got); diff != "" {
		t.Errorf("name, namespace, strategy, image, pull policy (-want +got):\n%s", diff)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %v, want 2", d.Spec.Replicas)
	}
}

// serverSideApply applies, conflicts and forces with server-side apply.
func serverSideApply(t *testing.T, k kubectlCmd, ns string) {
	apply := func(value string, extra ...string) result {
		t.Helper()
		file := writeFile(t, "ssa-"+value+".yaml", strings.ReplaceAll(ssaConfig, "%s", value))
		return k.exec(t, nil, append([]string{"apply", "--server-side", "-n", ns, "-f", file}, extra...)...)
	}
	r := apply("one")
	if r.code != 0 {
		t.Fatalf("kubectl apply --server-side: %s", r)
	}
	wantOutput(t, r.stdout, "configmap/ssa-config serverside-applied")

	var cm struct{ Metadata metav1.ObjectMeta }
	if err := json.Unmarshal([]byte(k.run(t, "get", "configmap", "ssa-config", "-n", ns, "-o", "json", "--show-managed-fields")), &cm); err != nil {
		t.Fatal(err)
	}
	var managers []string
	for _, m := range cm.Metadata.ManagedFields {
		managers = append(managers, m.Manager+"/"+string(m.Operation))
	}
	if diff := cmp.Diff([]string{"kubectl/Apply"}, managers); diff != "" {
		t.Errorf("managedFields managers (-want +got):\n%s", diff)
	}

	k.run(t, "patch", "configmap", "ssa-config", "-n", ns, "--type=merge", "-p", `{"data":{"key":"patched"}}`)
	r = apply("two")
	if r.code == 0 {
		t.Fatalf("apply over a field another manager changed: want a conflict, got %s", r)
	}
	wantStderrContains(t, r, `conflict with "kubectl-patch"`)
	r = apply("two", "--force-conflicts")
	if r.code != 0 {
		t.Fatalf("kubectl apply --server-side --force-conflicts: %s", r)
	}
	wantOutput(t, k.run(t, "get", "configmap", "ssa-config", "-n", ns, "-o", "jsonpath={.data.key}"), "two")
}

// writeFile writes content to a new file named name in a temporary
// directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// lines splits output into lines with their fields joined by one space,
// so that column alignment does not matter.
func lines(out string) []string {
	var ls []string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			ls = append(ls, strings.Join(f, " "))
		}
	}
	return ls
}

// table splits output into rows of fields.
func table(out string) [][]string {
	var rows [][]string
	for _, l := range lines(out) {
		rows = append(rows, strings.Fields(l))
	}
	if len(rows) == 0 {
		rows = append(rows, nil)
	}
	return rows
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// hasRow reports whether a line of out consists of exactly fields.
func hasRow(out string, fields ...string) bool {
	return contains(lines(out), strings.Join(fields, " "))
}

// wantOutput compares out line by line, whitespace-normalized, with want.
func wantOutput(t *testing.T, out string, want ...string) {
	t.Helper()
	if diff := cmp.Diff(want, lines(out)); diff != "" {
		t.Errorf("output (-want +got):\n%s\nraw output:\n%s", diff, out)
	}
}

// wantOutputLine checks that out has the line want, whitespace-normalized.
func wantOutputLine(t *testing.T, out, want string) {
	t.Helper()
	if !contains(lines(out), want) {
		t.Errorf("no line %q in output:\n%s", want, out)
	}
}

// wantTable checks a table's header and its one row: the row's leading
// fields are want, and its last fields (the wide columns) are wide. It
// returns the row, or nil if the table does not have the header's shape.
func wantTable(t *testing.T, out string, header, want []string, wide ...string) []string {
	t.Helper()
	rows := table(out)
	if diff := cmp.Diff(header, rows[0]); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	if len(rows) != 2 || len(rows[1]) != len(header) {
		t.Errorf("want a header and one row of %d fields, got:\n%s", len(header), out)
		return nil
	}
	got := rows[1]
	if diff := cmp.Diff(want, got[:len(want)]); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
	if len(wide) > 0 {
		if diff := cmp.Diff(wide, got[len(got)-len(wide):]); diff != "" {
			t.Errorf("wide columns (-want +got):\n%s", diff)
		}
	}
	return got
}

// wantMatch checks that out matches every regular expression.
func wantMatch(t *testing.T, out string, exprs ...string) {
	t.Helper()
	for _, e := range exprs {
		if !regexp.MustCompile(e).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", e, out)
		}
	}
}

// wantStderr checks that stderr is exactly the line want.
func wantStderr(t *testing.T, r result, want string) {
	t.Helper()
	if diff := cmp.Diff(want, strings.TrimSpace(r.stderr)); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
}

func wantStderrContains(t *testing.T, r result, want string) {
	t.Helper()
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr does not contain %q:\n%s", want, r)
	}
}

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Fixed loopback ports below the ephemeral range (32768-60999 here): a port
// in that range can be taken by an outgoing connection between check and
// bind. Each simulated cluster uses a block of portsPerCluster ports from
// portBase()+100+slot*portsPerCluster; the git server uses portBase().
const portsPerCluster = 10

func portBase() int {
	if s := os.Getenv("FLEETGEN_E2E_PORT_BASE"); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			return n
		}
	}
	return 17000
}

// requireFree fails the test if a fixed port is taken.
func requireFree(t *testing.T, ports ...int) {
	t.Helper()
	for _, p := range ports {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatalf("e2e: port 127.0.0.1:%d is taken (set FLEETGEN_E2E_PORT_BASE to move the test's ports): %v", p, err)
		}
		l.Close()
	}
}

// cluster is one simulated K3s server: kine on SQLite (K3s's default
// datastore) and a real kube-apiserver, then the Flux pieces as local
// processes against it.
type cluster struct {
	t          *testing.T
	name       string // example/region/cluster, for logs
	dir        string
	port       int // first port of the block
	kube       *kube
	kubeconfig string

	sourceKind string   // the flux-system source: GitRepository (default) or OCIRepository
	fluxEnv    []string // more environment for the Flux controllers

	mu     sync.Mutex
	procs  []*proc
	cancel context.CancelFunc // stops the kubelet stand-in
}

type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func (c *cluster) apiPort() int { return c.port + 1 }

// start runs a process with its output in dir/<name>.log.
func (c *cluster) start(name string, env []string, bin string, args ...string) *proc {
	c.t.Helper()
	logPath := filepath.Join(c.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); f.Close(); close(p.done) }()
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return p
}

// stop ends the cluster's processes (the ones this test started, by pid),
// the last started first.
func (c *cluster) stop() {
	c.mu.Lock()
	procs := c.procs
	c.procs = nil
	c.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		select {
		case <-p.done:
			continue
		default:
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	}
}

// exited reports a process that stopped while the test still needs it.
func (c *cluster) exited() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range c.procs {
		select {
		case <-p.done:
			out = append(out, fmt.Sprintf("%s exited (%v); its log ends:\n%s", p.name, p.cmd.ProcessState, tail(p.log, 30)))
		default:
		}
	}
	return strings.Join(out, "\n")
}

// logTails is the end of every process log, for a failure message.
func (c *cluster) logTails(n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, p := range c.procs {
		fmt.Fprintf(&b, "--- %s (%s), last %d lines:\n%s\n", p.name, p.log, n, tail(p.log, n))
	}
	return b.String()
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startCluster starts kine and kube-apiserver in dir and waits until the
// API server is ready. extraArgs are the kube-apiserver-arg values of the
// node's K3s configuration (paths already under the scratch root).
// The caller owns the cluster from the start (*keep is set before any
// process starts) and stops it.
func startCluster(t *testing.T, tl *tools, p *pki, name, dir string, slot int, extraArgs []string, keep **cluster) *cluster {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, name: name, dir: dir, port: portBase() + 100 + slot*portsPerCluster}
	ports := make([]int, portsPerCluster)
	for i := range ports {
		ports[i] = c.port + i
	}
	requireFree(t, ports...)
	*keep = c

	kineAddr := fmt.Sprintf("127.0.0.1:%d", c.port)
	c.start("kine", nil, tl.kine,
		"--endpoint", "sqlite://"+filepath.Join(dir, "state.db")+"?_journal=WAL&cache=shared",
		"--listen-address", kineAddr,
		// Several clusters run at once: no metrics listener on :8080.
		"--metrics-bind-address", "0")
	waitTCP(t, c, kineAddr, 30*time.Second)

	args := []string{
		"--etcd-servers=http://" + kineAddr,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", c.apiPort()),
		"--tls-cert-file=" + p.serverCert,
		"--tls-private-key-file=" + p.serverK,
		"--client-ca-file=" + p.caFile,
		"--service-account-key-file=" + p.saPub,
		"--service-account-signing-key-file=" + p.saKey,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--api-audiences=https://kubernetes.default.svc.cluster.local,k3s",
		"--service-cluster-ip-range=10.43.0.0/16", // K3s's
		"--authorization-mode=Node,RBAC",
		"--allow-privileged=true",
		"--anonymous-auth=false",
		"--profiling=false",
		"--endpoint-reconciler-type=none",
		// No kube-controller-manager here: nothing would create the
		// ServiceAccount tokens or the quota usage these admission plugins wait for.
		"--disable-admission-plugins=ServiceAccount,ResourceQuota",
	}
	args = append(args, extraArgs...)
	c.start("kube-apiserver", nil, tl.kubeAPIServer, args...)

	server := fmt.Sprintf("https://127.0.0.1:%d", c.apiPort())
	c.kubeconfig = filepath.Join(dir, "kubeconfig")
	p.kubeconfig(t, c.kubeconfig, server)
	c.kube = &kube{base: server, hc: &http.Client{Transport: &http.Transport{TLSClientConfig: p.tlsConfig(t)}, Timeout: 30 * time.Second}}

	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.kube.do(ctx, http.MethodGet, "/readyz", "", nil)
		cancel()
		if err == nil {
			break
		}
		if s := c.exited(); s != "" {
			t.Fatalf("%s: %s", name, s)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: kube-apiserver not ready after 90s: %v\n%s", name, err, c.logTails(40))
		}
		time.Sleep(500 * time.Millisecond)
	}
	return c
}

func waitTCP(t *testing.T, c *cluster, addr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return
		}
		if s := c.exited(); s != "" {
			t.Fatalf("%s: %s", c.name, s)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: nothing listens on %s after %s\n%s", c.name, addr, d, c.logTails(30))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startFlux runs source-controller and kustomize-controller as local
// processes against the cluster (the Deployments Flux creates in the cluster
// cannot run: there is no kubelet).
// source is the kind of the flux-system source the cluster syncs.
func (c *cluster) source() string {
	if c.sourceKind == "" {
		return "GitRepository"
	}
	return c.sourceKind
}

func (c *cluster) startFlux(tl *tools) {
	c.t.Helper()
	addr := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", c.port+i) }
	env := append([]string{"KUBECONFIG=" + c.kubeconfig, "RUNTIME_NAMESPACE=flux-system"}, c.fluxEnv...)
	storage := filepath.Join(c.dir, "source-controller-storage")
	if err := os.MkdirAll(storage, 0o700); err != nil {
		c.t.Fatal(err)
	}
	c.start("source-controller", env, tl.sourceController,
		"--watch-all-namespaces",
		"--enable-leader-election=false",
		"--metrics-addr="+addr(2), "--health-addr="+addr(3),
		"--storage-path="+storage, "--storage-addr="+addr(4), "--storage-adv-addr="+addr(4),
		"--log-level=info")
	c.start("kustomize-controller", env, tl.kustomizeController,
		"--watch-all-namespaces",
		"--enable-leader-election=false",
		"--metrics-addr="+addr(5), "--health-addr="+addr(6),
		// Re-check a dependsOn every 2s instead of 30s: the order is the
		// same, the test is shorter.
		"--requeue-dependency=2s",
		"--log-level=info")
}

// startFluxOperator runs the Flux Operator as a local process: it
// reconciles the FluxInstance from the Flux distribution manifests bundled
// in its module (config/data), without a registry.
func (c *cluster) startFluxOperator(tl *tools) {
	c.t.Helper()
	addr := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", c.port+i) }
	c.start("flux-operator", []string{
		"KUBECONFIG=" + c.kubeconfig, "RUNTIME_NAMESPACE=flux-system",
		"GODEBUG=fips140=on", // it refuses to start outside FIPS 140-3 mode
	}, tl.fluxOperator,
		"--storage-path="+filepath.Join(tl.fluxOperatorSrc, "config", "data"),
		"--enable-leader-election=false",
		"--metrics-addr="+addr(7), "--health-addr="+addr(8),
		"--web-server-port=0",
		"--log-level=info")
}

// standInKubelet marks every Deployment available once it exists and
// whenever its generation changes (a status patch). There is no kubelet or
// kube-controller-manager in this test: no Pod ever runs. Kustomizations with
// `wait: true` and the FluxInstance's health checks read these statuses.
func (c *cluster) standInKubelet(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		deps, err := c.kube.list(ctx, "apps/v1", "Deployment", "")
		if err != nil {
			continue
		}
		for _, d := range deps {
			gen, _ := field(d, "metadata", "generation").(float64)
			obs, _ := field(d, "status", "observedGeneration").(float64)
			replicas := 1.0
			if r, ok := field(d, "spec", "replicas").(float64); ok {
				replicas = r
			}
			avail, _ := field(d, "status", "availableReplicas").(float64)
			if obs == gen && avail == replicas {
				continue
			}
			now := time.Now().UTC().Format(time.RFC3339)
			status := obj{"status": obj{
				"observedGeneration": gen,
				"replicas":           replicas,
				"updatedReplicas":    replicas,
				"readyReplicas":      replicas,
				"availableReplicas":  replicas,
				"conditions": []any{
					obj{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
						"message": "marked available by the e2e test's kubelet stand-in", "lastUpdateTime": now, "lastTransitionTime": now},
					obj{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
						"message": "marked by the e2e test's kubelet stand-in", "lastUpdateTime": now, "lastTransitionTime": now},
				},
			}}
			c.kube.mergePatch(ctx, "apps/v1", "Deployment", str(d, "metadata", "namespace"), str(d, "metadata", "name"), "status", status)
		}
	}
}

package design

import (
	"fmt"
	"strings"
	"testing"
)

// wrap puts text on line 4 of a document with the four task headings, so
// that only findings about text remain.
func wrap(text string) string {
	return "# Design\n\n## 1. Distribution\n" + text + "\n\n## 2. Fleet management\n\n## 3. Resilience\n\n## 4. Node security\n"
}

// rulesAt returns the rules found on line n.
func rulesAt(t *testing.T, doc string, f Facts, n int) []string {
	t.Helper()
	rep, err := Check([]byte(doc), f)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	var rules []string
	for _, fd := range withoutMissingBlock(rep).Warnings {
		if fd.Line != n {
			t.Errorf("finding on line %d, want only line %d: %+v", fd.Line, n, fd)
			continue
		}
		rules = append(rules, fd.Rule)
	}
	return rules
}

// Sentences that mention a contradicting component but reject it, make it
// conditional, compare or explain it: none is reported.
var notFlagged = []string{
	// Spanish
	"No recomendamos etcd para estos nodos.",
	"No recomendamos un etcd completo: K3s usa SQLite.",
	"K3s con SQLite en lugar de etcd.",
	"Usamos SQLite en vez de etcd embebido.",
	"Sin Istio: el tráfico entre pods es local.",
	"Descartamos MicroK8s por su dependencia de snapd.",
	"Descartamos Istio, Linkerd y Kuma por su consumo de memoria.",
	"Evitamos cualquier malla de servicios.",
	"Ni service mesh ni etcd.",
	"No usamos kubeadm ni Kubernetes estándar.",
	"Flux en lugar de ArgoCD.",
	"Recomendamos K3s frente a K0s y MicroK8s.",
	"Elegimos K3s y no k0s.",
	"Flux, no Argo CD, es el motor GitOps.",
	"Usamos Flux y no ArgoCD porque no necesitamos interfaz.",
	"Nada de modelo push: Flux tira de Git.",
	"Ningún `kubectl apply` desde CI: cada clúster se reconcilia solo.",
	"No se abren puertos de entrada en los nodos.",
	"El API server nunca se expone a Internet.",
	"etcd: descartado.",
	"Istio queda descartado por su consumo.",
	"¿Service mesh? No hace falta.",
	"Si en el futuro hubiera tres nodos por sitio, podría usarse etcd embebido.",
	"etcd embebido solo si el sitio tiene tres servidores.",
	"K0s usa etcd por defecto, lo que exige más memoria.",
	"etcd necesita tres nodos para el quórum.",
	"Argo CD es popular, pero Flux consume menos memoria.",
	"Comparamos K3s, K0s y MicroK8s antes de decidir.",
	"Los desarrolladores hacen push a Git y Flux lo aplica en cada clúster.",
	"Diseña la estrategia de Fleet Management (Pull-based con ArgoCD o Flux).",
	"Diseña la estrategia de **Fleet Management** utilizando un enfoque GitOps (Pull-based con ArgoCD o Flux).",
	"Implementación de GitOps (Arquitectura Pull con ArgoCD/Flux) para gestionar miles de nodos.",
	"Design the Fleet Management strategy using a GitOps approach (Pull-based with ArgoCD or Flux).",
	"Intentar empujar (push) configuraciones a miles de dispositivos inestables con kubectl es una receta para el desastre.",
	"MICROK8S: DESCARTADA. ÉTCD: NO.",
	"No recomendamos un etcd completo ni una malla de servicios: elegimos K3s con SQLite y Flux en modo pull, sin puertos de entrada.",
	"Descarto Istio e\u0301tcd y MicroK8s.", // decomposed accent
	"Service mesh: ninguno.",
	"K3s usa kine, una capa compatible con la API de etcd, sobre SQLite.",
	// English
	"We do not recommend etcd on these nodes.",
	"Use SQLite instead of etcd.",
	"Avoid a service mesh on 2 GB nodes.",
	"We do not use kubeadm.",
	"We don't use kubeadm.",
	"We use Flux instead of ArgoCD.",
	"MicroK8s was discarded because of snapd.",
	"Neither Istio nor Linkerd fits in 2 GB.",
	"No service mesh: WireGuard already encrypts node traffic.",
	"Never run kubectl apply from CI against the clusters.",
	"There are no inbound ports; Flux only makes outbound connections.",
	"Pull-based, not push-based.",
	"We avoid Istio, Linkerd, Consul Connect and Kuma.",
	"k0s vs MicroK8s vs K3s: we recommend K3s.",
	"If you ever need HA with three servers, embedded etcd is an option.",
	"Istio is overkill here.",
	"Argo CD is a popular alternative.",
	"Unlike kubeadm, K3s ships as a single binary.",
	"Full Kubernetes requires etcd and far more memory.",
	"We chose K3s rather than k0s or MicroK8s.",
	"Rancher Fleet and Argo CD were ruled out.",
	"Firewall: deny all inbound traffic.",
	"Is a service mesh needed? No.",
	"| Service mesh | ❌ not needed |",
	"| | K3s | k0s | MicroK8s |\n|---|---|---|---|\n| Datastore | SQLite | etcd | Dqlite |",
	// Phrasings seen in AI answers.
	"K3s elimina la necesidad de etcd al usar SQLite como datastore por defecto.",
	"Para escenarios con 3+ nodos, K3s soporta etcd embebido (HA), pero con 2 GB de RAM no es recomendable.",
	"El modo HA con etcd embebido requiere al menos 3 nodos servidor.",
	"Flux sigue un modelo pull: los clústeres consultan Git, en lugar del modelo push tradicional.",
	"No es necesario un service mesh.",
	"Un service mesh como Istio añadiría 500 MB de overhead.",
	"Linkerd es más ligero que Istio, pero sigue siendo excesivo para 2 GB.",
	"Para el tráfico este-oeste no se necesita service mesh; WireGuard cifra entre nodos.",
	"Comparado con ArgoCD, Flux consume menos memoria.",
	"ArgoCD ofrece una UI excelente, pero su consumo lo hace inviable en 2 GB.",
	"En lugar de que un servidor central haga `kubectl apply` a 5.000 clústeres, cada clúster tira de Git.",
	"Istio, Linkerd y Cilium Service Mesh quedan fuera por memoria.",
	"Kubernetes estándar (kubeadm) no cabe en 2 GB.",
	"Argo CD: descartado por consumo.",
	"Tampoco exponemos el API server a Internet.",
	"Sin SSH ni Ansible empujando manifiestos.",
	"K3s can run with embedded etcd for HA, but that requires at least three server nodes.",
	"For a single 2 GB node, etcd would be wasteful.",
	"etcd is the default datastore of upstream Kubernetes.",
	"The push model (CI running kubectl apply against each cluster) does not scale to 5,000 intermittent sites.",
	"Datastore: SQLite; etcd is reserved for future multi-node sites.",
	"We evaluated Argo CD, but chose Flux.",
	"Flux was chosen over Argo CD.",
	"Pull, not push: no inbound ports, no kubectl apply from CI.",
	"Flux polls Git over outbound HTTPS, so no inbound port needs to be opened.",
	"Ningún servidor central necesita credenciales de los clústeres.",
	"No central server holds cluster credentials.",
	"La API de Kubernetes solo es accesible a través de WireGuard; nunca se publica en Internet.",
	"The Kubernetes API is only reachable over WireGuard and is never published to the internet.",
	"| Service mesh | — |",
	"| Service mesh | N/A |",
	"| Decisión | Valor |\n|---|---|\n| Distribución | K3s |\n| GitOps | Flux |\n| Service mesh | Ninguno |",
	"## 2. Fleet Management: ArgoCD vs. Flux",
	"Prometheus Pushgateway en cada nodo recoge las métricas de los jobs.",
	"NetworkPolicies restrict inbound traffic between namespaces.",
	"For debugging, an operator runs kubectl port-forward over WireGuard.",
	"K3s es un Kubernetes completamente funcional en 70 MB.",
	"A central Vault stores the CI credentials.",
	"The API server is open only to the hub's WireGuard peers.",
	"Los cambios son idempotentes; no hay cola de comandos pendientes como en un enfoque push.",
	"SQLite over etcd: on a single node, running etcd is wasteful. etcd is designed for distributed consensus and performs frequent fsyncs.",
}

func TestNotFlagged(t *testing.T) {
	for _, s := range notFlagged {
		t.Run(s, func(t *testing.T) {
			if got := rulesAt(t, wrap(s), offshoreFacts, 4); len(got) > 0 {
				t.Errorf("%q: got %v, want no finding", s, got)
			}
		})
	}
}

// Sentences that recommend what the plan contradicts.
var flagged = []struct{ text, rule string }{
	// Spanish
	{"Recomendamos etcd embebido para alta disponibilidad.", RuleEtcdOnSmallNode},
	{"Activamos `--cluster-init` en cada nodo.", RuleEtcdOnSmallNode},
	{"Se usa etcd embebido en todos los sitios.", RuleEtcdOnSmallNode},
	{"Usaremos Istio para mTLS.", RuleServiceMesh},
	{"Desplegamos una malla de servicios con Linkerd.", RuleServiceMesh},
	{"La malla de servicios Kuma gestiona el tráfico.", RuleServiceMesh},
	{"No usamos Istio. Usamos Linkerd.", RuleServiceMesh},
	{"Instalamos Kubernetes completo con kubeadm.", RuleFullKubernetes},
	{"Usaremos OpenShift en los centros regionales.", RuleFullKubernetes},
	{"Distribución: k0s.", RuleOtherDistribution},
	{"Recomendamos MicroK8s por sus complementos.", RuleOtherDistribution},
	{"La distribución elegida es k0s.", RuleOtherDistribution},
	{"DISTRIBUCIÓN RECOMENDADA: MICROK8S", RuleOtherDistribution},
	{"Distribuci\u00f3n: MicroK8s, la elecci\u00f3n.", RuleOtherDistribution},
	{"Distribucio\u0301n recomendada: MicroK8s", RuleOtherDistribution}, // decomposed accent
	{"Elegimos ArgoCD con ApplicationSets.", RuleOtherGitOps},
	{"| GitOps | Argo CD |", RuleOtherGitOps},
	{"Usamos Rancher Fleet para gestionar la flota.", RuleOtherGitOps},
	{"El CI ejecuta kubectl apply en cada clúster.", RulePushDeployment},
	{"Adoptamos un modelo push desde el servidor central.", RulePushDeployment},
	{"Un playbook de Ansible aplica los manifiestos por SSH.", RulePushDeployment},
	{"Abrimos el puerto 6443 a Internet.", RulePushDeployment},
	// English
	{"We recommend embedded etcd for HA.", RuleEtcdOnSmallNode},
	{"Run K3s with --cluster-init on every node.", RuleEtcdOnSmallNode},
	{"Use Istio for mTLS between services.", RuleServiceMesh},
	{"A service mesh (Linkerd) secures pod traffic.", RuleServiceMesh},
	{"Install vanilla Kubernetes with kubeadm on the hubs.", RuleFullKubernetes},
	{"We recommend k0s for its simplicity.", RuleOtherDistribution},
	{"Distribution: MicroK8s", RuleOtherDistribution},
	{"MicroK8s is the recommended distribution.", RuleOtherDistribution},
	{"We will use Argo CD ApplicationSets.", RuleOtherGitOps},
	{"Fleet management: Rancher Fleet.", RuleOtherGitOps},
	{"A GitHub Actions pipeline runs kubectl apply against every cluster.", RulePushDeployment},
	{"Deployments follow a push-based model.", RulePushDeployment},
	{"Ansible pushes the manifests over SSH to each site.", RulePushDeployment},
	{"Open port 6443 to the internet so CI can reach the API server.", RulePushDeployment},
	{"Expose the API server publicly.", RulePushDeployment},
	{"```sh\nkubectl --context $SITE apply -f manifests/ # from the CI runner\n```", RulePushDeployment},
	{"K3s soporta etcd embebido y lo activamos en todos los sitios.", RuleEtcdOnSmallNode},
	{"Flux was evaluated, but Argo CD was chosen.", RuleOtherGitOps},
	{"Argo CD es nuestra elección para la flota.", RuleOtherGitOps},
	{"Cada clúster expone el API server en una IP pública.", RulePushDeployment},
	{"Los manifiestos se empujan por SSH a cada plataforma.", RulePushDeployment},
	{"Istio, but not Linkerd, runs on every node.", RuleServiceMesh},
	{"Argo CD ApplicationSets let a central hub hold every cluster's credentials and sync the manifests.", RulePushDeployment},
	{"Si se cae el enlace, el equipo reaplica los manifiestos por SSH con Ansible.", RulePushDeployment},
	{"The Kubernetes API is reachable over WireGuard and is also published on a public IP.", RulePushDeployment},
	{"Un hub central guarda los kubeconfig de todas las plataformas.", RulePushDeployment},
	{"```sh\ncurl -sfL https://get.k3s.io | sh -s - server --cluster-init\n```", RuleEtcdOnSmallNode},
}

func TestFlagged(t *testing.T) {
	for _, c := range flagged {
		t.Run(c.text, func(t *testing.T) {
			line := 4
			if strings.HasPrefix(c.text, "```") {
				line = 5
			}
			got := rulesAt(t, wrap(c.text), offshoreFacts, line)
			if fmt.Sprint(got) != fmt.Sprint([]string{c.rule}) {
				t.Errorf("%q: got %v, want [%s]", c.text, got, c.rule)
			}
		})
	}
}

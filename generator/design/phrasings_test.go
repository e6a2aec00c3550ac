package design

import "testing"

// Phrasings of rejection that assistants use, in Spanish and English: none
// is reported.
func TestRejectedPhrasings(t *testing.T) {
	for _, s := range []string{
		"A diferencia de MicroK8s, K3s no necesita snapd.",
		"Hemos evaluado K0s, pero nos quedamos con K3s.",
		"K0s queda descartado por su menor ecosistema.",
		"Aunque MicroK8s ofrece alta disponibilidad con Dqlite, no lo recomendamos para eMMC.",
		"No recomendamos etcd: con un solo nodo no hay quórum posible.",
		"Un etcd de tres miembros solo tiene sentido con tres nodos de al menos 4 GB, que no es el caso.",
		"En lugar de un clúster etcd completo, usamos SQLite con kine.",
		"Ni Argo CD ni Rancher Fleet: Flux es más ligero.",
		"Argo CD requeriría un servidor central con acceso a todos los clústeres, lo que descartamos.",
		"No se abre ningún puerto de entrada: ni 6443 ni SSH.",
		"El puerto 6443 permanece cerrado al exterior.",
		"Evitamos abrir el puerto 6443.",
		"We considered k0s, but chose K3s.",
		"Unlike MicroK8s, K3s does not need snapd.",
		"We never open port 6443 to the outside.",
		"Instead of a full etcd cluster, embedded SQLite is used.",
		"Argo CD is ruled out: too heavy for 2 GB.",
		"etcd is discarded.",
		"La opción de etcd embebido se descarta.",
		"MicroK8s: descartado.",
	} {
		rep, err := Check([]byte(wrap(s)), offshoreExample)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range rep.Warnings {
			if w.Rule != RuleDecisionsMissing {
				t.Errorf("%q: %s", s, w.Rule)
			}
		}
	}
}

// And the contradictions, phrased as assistants write them, are.
func TestContradictionPhrasings(t *testing.T) {
	for s, want := range map[string]string{
		"Cada plataforma ejecutará un clúster etcd completo de tres miembros.":      RuleEtcdOnSmallNode,
		"Montaremos un clúster etcd completo de tres miembros en cada plataforma.":  RuleEtcdOnSmallNode,
		"Each rig runs a full three-member etcd cluster.":                           RuleEtcdOnSmallNode,
		"Abrimos el puerto 6443 entrante para el soporte remoto.":                   RulePushDeployment,
		"Se abre el puerto 6443 de entrada en el firewall.":                         RulePushDeployment,
		"El API server (6443) se expone a Internet para el equipo de guardia.":      RulePushDeployment,
		"We open inbound port 6443 on every platform for remote support.":           RulePushDeployment,
		"Inbound connections on port 6443 are allowed from the operations network.": RulePushDeployment,
	} {
		rep, err := Check([]byte(wrap(s)), offshoreExample)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, w := range rep.Warnings {
			if w.Rule != RuleDecisionsMissing {
				got = append(got, w.Rule)
			}
		}
		if len(got) != 1 || got[0] != want {
			t.Errorf("%q: got %v, want [%s]", s, got, want)
		}
	}
}

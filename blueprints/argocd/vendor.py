#!/usr/bin/env python3
"""Vendor Argo CD's core install for fleetgen (see README.md beside this file).

    git show v3.5.1:manifests/core-install.yaml | python3 vendor.py > core-install.yaml
    git show v3.5.1:manifests/core-install.yaml | python3 vendor.py --cm > argocd-cm.yaml

Input: github.com/argoproj/argo-cd manifests/core-install.yaml at the pinned tag.
What changes, and nothing else:
  1. the ApplicationSet controller and its CRD, ServiceAccount, Role,
     RoleBinding, Service and NetworkPolicy are left out (fleetgen writes
     Applications itself; the CRD alone is 1.4 MB);
  2. argocd-cm and argocd-cmd-params-cm are left out: fleetgen writes them per
     region (argocd-cm's upstream data, printed with --cm, is their base);
  3. every namespaced object gets metadata.namespace: argocd (upstream expects
     `kubectl apply -n argocd`; K3s's auto-deploy folder has no namespace);
  4. the application-controller, repo-server and redis containers get the
     requests and limits of the Argo CD Helm chart's suggested values
     (argoproj/argo-helm charts/argo-cd/values.yaml, commented `resources`),
     which fleetgen's budget counts.
"""
import sys
import yaml

LEAVE_OUT = {"argocd-applicationset-controller", "applicationsets.argoproj.io",
             "argocd-applicationset-controller-network-policy"}
REGION_CMS = {"argocd-cm", "argocd-cmd-params-cm"}
CLUSTER_SCOPED = {"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
RESOURCES = {
    "argocd-application-controller": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
    "argocd-repo-server": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"cpu": "50m", "memory": "128Mi"}},
    "redis": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
}


class Dumper(yaml.SafeDumper):
    pass


def str_presenter(dumper, data):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


Dumper.add_representer(str, str_presenter)


def main():
    docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
    if "--cm" in sys.argv:
        cm = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "argocd-cm")
        sys.stdout.write(yaml.dump(cm, Dumper=Dumper, sort_keys=True, width=1 << 20))
        return
    out = []
    for d in docs:
        name = d["metadata"]["name"]
        if name in LEAVE_OUT or (d["kind"] == "ConfigMap" and name in REGION_CMS):
            continue
        if d["kind"] not in CLUSTER_SCOPED:
            d["metadata"]["namespace"] = "argocd"
        if d["kind"] in ("Deployment", "StatefulSet"):
            for c in d["spec"]["template"]["spec"]["containers"]:
                if c["name"] in RESOURCES:
                    c["resources"] = RESOURCES[c["name"]]
        out.append(d)
    sys.stdout.write(yaml.dump_all(out, Dumper=Dumper, sort_keys=True, width=1 << 20, explicit_start=True))


main()

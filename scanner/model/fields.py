"""Unknown fields in the kinds the model reads (rule INPUT005).

A misspelt field of a built-in kind (``runAsNonroot``, ``hostnetwork``, ``label``) is
rejected by ``kubectl apply``'s strict field validation (the default) and silently
dropped by the API server when validation is off: the workload then runs without
it.  The model reads only the fields it knows, so it already sees what a lenient API
server would store; this module says so, at the misspelt key, with a "did you mean".

Field names are the json tags of k8s.io/api (``core/v1/types.go`` PodSpec, Container,
EphemeralContainer, SecurityContext, PodSecurityContext, Capabilities,
SeccompProfile, AppArmorProfile, SELinuxOptions, WindowsSecurityContextOptions,
Sysctl, ContainerPort, EnvVar, EnvVarSource, VolumeMount, Volume/VolumeSource,
HostPathVolumeSource, PodTemplateSpec, ServiceSpec, ServicePort, NamespaceSpec;
``apps/v1`` Deployment/StatefulSet/DaemonSet/ReplicaSet specs; ``batch/v1``
JobSpec, CronJobSpec, JobTemplateSpec), up to Kubernetes 1.35.  Levels the model
does not read (affinity, probes, resources ...) are not checked field by field.
Argo ``Rollout`` is a custom resource whose schema Argo owns: it is not checked.
"""

from __future__ import annotations

from ..findings import Finding
from ..loader.documents import KubeObject
from ..loader.schema_fields import (
    ANY,
    LABEL_SELECTOR,
    OBJECT_META,
    Arr,
    Obj,
    extend,
    obj,
    prune,
    top_level,
)
from ..loader.yamltext import SENSITIVE_PATH

CAPABILITIES = obj("capabilities", add=ANY, drop=ANY)
SECCOMP = obj("seccompProfile", type=ANY, localhostProfile=ANY)
APPARMOR = obj("appArmorProfile", type=ANY, localhostProfile=ANY)
SELINUX = obj("seLinuxOptions", user=ANY, role=ANY, type=ANY, level=ANY)
WINDOWS = obj("windowsOptions", gmsaCredentialSpecName=ANY, gmsaCredentialSpec=ANY, runAsUserName=ANY, hostProcess=ANY)
_COMMON_SECURITY = {
    "seLinuxOptions": SELINUX,
    "windowsOptions": WINDOWS,
    "runAsUser": ANY,
    "runAsGroup": ANY,
    "runAsNonRoot": ANY,
    "seccompProfile": SECCOMP,
    "appArmorProfile": APPARMOR,
}
CONTAINER_SECURITY = obj(
    "container securityContext",
    capabilities=CAPABILITIES,
    privileged=ANY,
    readOnlyRootFilesystem=ANY,
    allowPrivilegeEscalation=ANY,
    procMount=ANY,
    **_COMMON_SECURITY,
)
POD_SECURITY = obj(
    "pod securityContext",
    supplementalGroups=ANY,
    supplementalGroupsPolicy=ANY,
    fsGroup=ANY,
    fsGroupChangePolicy=ANY,
    sysctls=Arr(obj("sysctl", name=ANY, value=ANY)),
    seLinuxChangePolicy=ANY,
    **_COMMON_SECURITY,
)
PORT = obj("container port", name=ANY, hostPort=ANY, containerPort=ANY, protocol=ANY, hostIP=ANY)
ENV = obj(
    "env entry",
    name=ANY,
    value=ANY,
    valueFrom=obj(
        "env valueFrom", fieldRef=ANY, resourceFieldRef=ANY, configMapKeyRef=ANY, secretKeyRef=ANY, fileKeyRef=ANY
    ),
)
VOLUME_MOUNT = obj(
    "volumeMount",
    name=ANY,
    readOnly=ANY,
    recursiveReadOnly=ANY,
    mountPath=ANY,
    subPath=ANY,
    mountPropagation=ANY,
    subPathExpr=ANY,
)
CONTAINER = obj(
    "container",
    name=ANY,
    image=ANY,
    command=ANY,
    args=ANY,
    workingDir=ANY,
    ports=Arr(PORT),
    envFrom=ANY,
    env=Arr(ENV),
    resources=ANY,
    resizePolicy=ANY,
    restartPolicy=ANY,
    restartPolicyRules=ANY,
    volumeMounts=Arr(VOLUME_MOUNT),
    volumeDevices=ANY,
    livenessProbe=ANY,
    readinessProbe=ANY,
    startupProbe=ANY,
    lifecycle=ANY,
    terminationMessagePath=ANY,
    terminationMessagePolicy=ANY,
    imagePullPolicy=ANY,
    securityContext=CONTAINER_SECURITY,
    stdin=ANY,
    stdinOnce=ANY,
    tty=ANY,
)
EPHEMERAL_CONTAINER = extend(CONTAINER, "ephemeral container", targetContainerName=ANY)
_VOLUME_SOURCES = (
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
)
VOLUME = obj("volume", name=ANY, hostPath=obj("hostPath", path=ANY, type=ANY), **dict.fromkeys(_VOLUME_SOURCES, ANY))
POD_SPEC = obj(
    "pod spec",
    volumes=Arr(VOLUME),
    initContainers=Arr(CONTAINER),
    containers=Arr(CONTAINER),
    ephemeralContainers=Arr(EPHEMERAL_CONTAINER),
    restartPolicy=ANY,
    terminationGracePeriodSeconds=ANY,
    activeDeadlineSeconds=ANY,
    dnsPolicy=ANY,
    nodeSelector=ANY,
    serviceAccountName=ANY,
    serviceAccount=ANY,
    automountServiceAccountToken=ANY,
    nodeName=ANY,
    hostNetwork=ANY,
    hostPID=ANY,
    hostIPC=ANY,
    shareProcessNamespace=ANY,
    securityContext=POD_SECURITY,
    imagePullSecrets=ANY,
    hostname=ANY,
    subdomain=ANY,
    affinity=ANY,
    schedulerName=ANY,
    tolerations=ANY,
    hostAliases=ANY,
    priorityClassName=ANY,
    priority=ANY,
    dnsConfig=ANY,
    readinessGates=ANY,
    runtimeClassName=ANY,
    enableServiceLinks=ANY,
    preemptionPolicy=ANY,
    overhead=ANY,
    topologySpreadConstraints=ANY,
    setHostnameAsFQDN=ANY,
    os=ANY,
    hostUsers=ANY,
    schedulingGates=ANY,
    resourceClaims=ANY,
    resources=ANY,
    hostnameOverride=ANY,
    workloadRef=ANY,
)
POD_TEMPLATE = obj("pod template", metadata=OBJECT_META, spec=POD_SPEC)
_REPLICATED = {"replicas": ANY, "selector": LABEL_SELECTOR, "template": POD_TEMPLATE, "minReadySeconds": ANY}
JOB_SPEC = obj(
    "Job spec",
    parallelism=ANY,
    completions=ANY,
    activeDeadlineSeconds=ANY,
    podFailurePolicy=ANY,
    successPolicy=ANY,
    backoffLimit=ANY,
    backoffLimitPerIndex=ANY,
    maxFailedIndexes=ANY,
    selector=LABEL_SELECTOR,
    manualSelector=ANY,
    template=POD_TEMPLATE,
    ttlSecondsAfterFinished=ANY,
    completionMode=ANY,
    suspend=ANY,
    podReplacementPolicy=ANY,
    managedBy=ANY,
)
SCHEMAS: dict[str, Obj] = {
    "Pod": top_level("Pod", spec=POD_SPEC),
    "PodTemplate": top_level("PodTemplate", template=POD_TEMPLATE),
    "Deployment": top_level(
        "Deployment",
        spec=obj(
            "Deployment spec",
            strategy=ANY,
            revisionHistoryLimit=ANY,
            paused=ANY,
            progressDeadlineSeconds=ANY,
            **_REPLICATED,
        ),
    ),
    "StatefulSet": top_level(
        "StatefulSet",
        spec=obj(
            "StatefulSet spec",
            volumeClaimTemplates=ANY,
            serviceName=ANY,
            podManagementPolicy=ANY,
            updateStrategy=ANY,
            revisionHistoryLimit=ANY,
            persistentVolumeClaimRetentionPolicy=ANY,
            ordinals=ANY,
            **_REPLICATED,
        ),
    ),
    "DaemonSet": top_level(
        "DaemonSet",
        spec=obj(
            "DaemonSet spec",
            selector=LABEL_SELECTOR,
            template=POD_TEMPLATE,
            updateStrategy=ANY,
            minReadySeconds=ANY,
            revisionHistoryLimit=ANY,
        ),
    ),
    "ReplicaSet": top_level("ReplicaSet", spec=obj("ReplicaSet spec", **_REPLICATED)),
    "ReplicationController": top_level(
        "ReplicationController",
        spec=obj("ReplicationController spec", replicas=ANY, minReadySeconds=ANY, selector=ANY, template=POD_TEMPLATE),
    ),
    "Job": top_level("Job", spec=JOB_SPEC),
    "CronJob": top_level(
        "CronJob",
        spec=obj(
            "CronJob spec",
            schedule=ANY,
            timeZone=ANY,
            startingDeadlineSeconds=ANY,
            concurrencyPolicy=ANY,
            suspend=ANY,
            jobTemplate=obj("job template", metadata=OBJECT_META, spec=JOB_SPEC),
            successfulJobsHistoryLimit=ANY,
            failedJobsHistoryLimit=ANY,
        ),
    ),
    "Service": top_level(
        "Service",
        spec=obj(
            "Service spec",
            ports=Arr(
                obj("Service port", name=ANY, protocol=ANY, appProtocol=ANY, port=ANY, targetPort=ANY, nodePort=ANY)
            ),
            selector=ANY,
            clusterIP=ANY,
            clusterIPs=ANY,
            type=ANY,
            externalIPs=ANY,
            sessionAffinity=ANY,
            loadBalancerIP=ANY,
            loadBalancerSourceRanges=ANY,
            externalName=ANY,
            externalTrafficPolicy=ANY,
            healthCheckNodePort=ANY,
            publishNotReadyAddresses=ANY,
            sessionAffinityConfig=ANY,
            ipFamilies=ANY,
            ipFamilyPolicy=ANY,
            allocateLoadBalancerNodePorts=ANY,
            loadBalancerClass=ANY,
            internalTrafficPolicy=ANY,
            trafficDistribution=ANY,
        ),
    ),
    "Namespace": top_level("Namespace", spec=obj("Namespace spec", finalizers=ANY)),
}
# API groups whose kinds these schemas describe ("" is the core group).
_GROUPS = {
    "Pod": "",
    "PodTemplate": "",
    "ReplicationController": "",
    "Service": "",
    "Namespace": "",
    "Deployment": "apps",
    "StatefulSet": "apps",
    "DaemonSet": "apps",
    "ReplicaSet": "apps",
    "Job": "batch",
    "CronJob": "batch",
}


def unknown_fields(obj_: KubeObject, subject: str) -> list[Finding]:
    """INPUT005 findings for the fields of ``obj_`` its kind does not have."""
    schema = SCHEMAS.get(obj_.kind)
    group = obj_.api_version.split("/", 1)[0] if "/" in obj_.api_version else ""
    if schema is None or group != _GROUPS[obj_.kind]:
        return []
    _, unknown = prune(obj_.body, schema)
    out = []
    for u in unknown:
        meant = f" (did you mean '{u.suggestion}'?)" if u.suggestion else ""
        out.append(
            Finding(
                "INPUT005",
                f"{subject}: '{u.path}' is not a field of a {u.holder}{meant}. kubectl apply (strict field validation, "
                f"the default) rejects the {obj_.kind}; with validation off the API server drops the field, and this "
                "scan checks the object without it",
                u.loc,
                subject=subject,
                detail=u.path,
                sensitive=bool(SENSITIVE_PATH.search(u.path)),
            )
        )
    return out


__all__ = ["SCHEMAS", "unknown_fields"]

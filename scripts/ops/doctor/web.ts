// Wave 2: the web tier and how it reaches the API.
import type { Check, CheckContext } from './check';
import { checkConfigMapHosts } from './config-hosts';
import { checkDeployment, checkEndpoints } from './workloads';

export async function webChecks({ kube, t, inTier }: CheckContext): Promise<Check[]> {
  const web = t.web;
  return [
    await inTier('frontend', { id: `configmap/${web.namespace}/${web.configMap}`, group: 'web', title: `ConfigMap ${web.configMap}: API upstream resolves` }, () =>
      checkConfigMapHosts(kube, t, web.namespace, web.configMap, 'frontend'),
    ),
    await inTier('frontend', { id: `deployment/${web.namespace}/${web.deployment}`, group: 'web', title: `Deployment ${web.deployment} ready` }, () =>
      checkDeployment(kube, web.namespace, web.deployment),
    ),
    await inTier('frontend', { id: `service/${web.namespace}/${web.service}`, group: 'web', title: `Service ${web.service} has ready endpoints` }, () =>
      checkEndpoints(kube, web.namespace, web.service, {
        noEndpointsCause: `no ready web pod (see the Deployment check), or the Service selector does not match the pod labels`,
        podsCommand: `kubectl get pods -n ${web.namespace} -l app.kubernetes.io/name=${web.deployment}`,
      }),
    ),
  ];
}

// Test-only (never shipped): answers, for a batch of trust-policy cases, what the independent
// IAM engine @cloud-copilot/iam-simulate decides. Reads one JSON array of cases on stdin, each
// { "principal": ARN, "account": ID, "policy": {...}, "context": { key: string | [string] } },
// and writes one JSON array of verdicts: "Allowed", "ExplicitlyDenied" or "ImplicitlyDenied".
//
// Why the core engine and not runSimulation: runSimulation keeps only the context keys that IAM's
// service reference lists for the action, and `token.actions.githubusercontent.com:sub` (or a
// GHES `HOST/_services/token:sub`) is not among them for sts:AssumeRoleWithWebIdentity, so every
// condition on a claim would see an absent key. The package's runUnsafeSimulation skips that
// filter but cannot take a resource policy in this version (it loads it without the name the
// engine reads), so this script does what runUnsafeSimulation does, with the name: it calls the
// core `authorize` with the trust policy as the role's resource policy, the provider ARN as the
// principal, and every claim key in the request context, in Strict mode.
'use strict';
const path = require('path');

const dist = path.dirname(require.resolve('@cloud-copilot/iam-simulate'));
const { authorize } = require(path.join(dist, 'core_engine/CoreSimulatorEngine.js'));
const { AwsRequestImpl } = require(path.join(dist, 'request/request.js'));
const { RequestContextImpl } = require(path.join(dist, 'requestContext.js'));
const { DiscoveryContextKeyConstraints } = require(
  path.join(dist, 'context_keys/discoveryContextKeyConstraints.js')
);
const { loadPolicy } = require('@cloud-copilot/iam-policy');

function verdict(c) {
  const role = `arn:aws:iam::${c.account}:role/deploy`;
  const request = new AwsRequestImpl(
    c.principal,
    { resource: role, accountId: c.account },
    'sts:AssumeRoleWithWebIdentity',
    new RequestContextImpl(c.context)
  );
  const analysis = authorize({
    request,
    sessionPolicy: undefined,
    identityPolicies: [],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: loadPolicy(c.policy, { name: 'trust-policy' }),
    permissionBoundaries: undefined,
    vpcEndpointPolicies: undefined,
    simulationParameters: {
      simulationMode: 'Strict',
      discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([]),
    },
    serviceSettings: {},
  });
  return analysis.result;
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.on('end', () => {
  const cases = JSON.parse(input);
  process.stdout.write(JSON.stringify(cases.map(verdict)));
});

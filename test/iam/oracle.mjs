// IAM oracle for Rotary's tests: evaluates requests against IAM policies with
// @cloud-copilot/iam-simulate (AGPL-3.0, used unmodified as a test tool only;
// it is never linked into or shipped with the functions).
//
// Input (stdin): {"cases": [{"name", "principal", "action", "resource",
//   "resourceAccount", "context": {key: [values]}, "identityPolicies":
//   [{"name", "policy"}], "resourcePolicy": {...} | null, "resourcePolicyName"}]}
// Output (stdout): {"results": [{"name", "decision", "errors", "grants":
//   [{"policy", "sid"}], "denials": [{"policy", "sid", "type"}], "nearMisses":
//   [{"policy", "sid", "condition"}]}]}
// nearMisses (requests not allowed) are the Allow statements whose action and
// resource match the request but whose conditions do not: the statement a
// failure most likely concerns.
// A case the simulator refuses to run (bad policy, unknown action or context
// key) has decision "error" and the simulator's messages in errors.
import { readFileSync } from 'node:fs'
import { runSimulation, getGrantReasons, getDenialReasons } from '@cloud-copilot/iam-simulate'

const input = JSON.parse(readFileSync(0, 'utf8'))
const results = []
for (const c of input.cases || []) {
  const names = new Map(c.identityPolicies.map((p) => [p.name, p.name]))
  const sim = {
    request: {
      principal: c.principal,
      action: c.action,
      resource: { resource: c.resource, accountId: c.resourceAccount },
      contextVariables: Object.fromEntries(
        Object.entries(c.context || {}).map(([k, v]) => [k, v.length === 1 ? v[0] : v])
      )
    },
    identityPolicies: c.identityPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: []
  }
  if (c.resourcePolicy) sim.resourcePolicy = c.resourcePolicy
  const out = { name: c.name, decision: 'error', errors: [], grants: [], denials: [], nearMisses: [] }
  try {
    const r = await runSimulation(sim, {})
    if (r.resultType === 'error') {
      out.errors.push(JSON.stringify(r.errors))
    } else {
      const analysis = r.resultType === 'single' ? r.result.analysis : r.results[0]?.analysis
      out.decision = r.overallResult
      const policyName = (g) =>
        g.policyType === 'resource' ? c.resourcePolicyName || 'resource policy' : names.get(g.policyIdentifier) || g.policyIdentifier || g.policyType
      const sid = (g) => g.statementId || (g.statementIndex ? `statement #${g.statementIndex}` : '')
      if (analysis) {
        if (r.overallResult === 'Allowed') {
          for (const g of getGrantReasons(analysis)) out.grants.push({ policy: policyName(g), sid: sid(g) })
        } else {
          for (const d of getDenialReasons(analysis)) {
            out.denials.push({ policy: d.denialType === 'Explicit' ? policyName(d) : d.policyType, sid: d.denialType === 'Explicit' ? sid(d) : '', type: d.denialType })
          }
          const miss = (s, policy) => {
            if (!s.statement.isAllow() || !s.actionMatch || !s.resourceMatch || s.conditionMatch !== 'NoMatch') return
            if (s.principalMatch && s.principalMatch !== 'Match') return
            const st = s.statement.toJSON()
            out.nearMisses.push({ policy, sid: s.statement.sid() || `statement #${s.statement.index()}`, condition: JSON.stringify(st.Condition || {}) })
          }
          for (const s of analysis.identityAnalysis?.unmatchedStatements || []) miss(s, names.get(s.policyId) || s.policyId)
          for (const s of analysis.resourceAnalysis?.unmatchedStatements || []) miss(s, c.resourcePolicyName || 'resource policy')
        }
      }
    }
  } catch (e) {
    out.errors.push(String(e && e.stack ? e.stack : e))
  }
  results.push(out)
}
process.stdout.write(JSON.stringify({ results }))

-- Argo CD health check for Palisade's kinds (Tenant, TenantKey, ClusterAgent, CertificateBinding,
-- KeyAccessPolicy).
-- Healthy when Palisade has reconciled the current generation and reports Ready=True; Degraded with the
-- Ready reason when it reports Ready=False; Progressing while it has not caught up; Suspended for a
-- suspended ClusterAgent.
local hs = { status = "Progressing", message = "Waiting for Palisade to reconcile" }
if obj.kind == "ClusterAgent" and obj.spec ~= nil and obj.spec.suspended == true then
  hs.status = "Suspended"
  hs.message = "Agent credentials are suspended"
  return hs
end
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local generation = obj.metadata.generation or 0
local observed = obj.status.observedGeneration or 0
if observed < generation then
  hs.message = "Waiting for Palisade to reconcile generation " .. generation
  return hs
end
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then
    local detail = (c.reason or "") .. ": " .. (c.message or "")
    if c.status == "True" then
      hs.status = "Healthy"
      hs.message = c.message or "Ready"
    elseif c.status == "False" then
      hs.status = "Degraded"
      hs.message = detail
    else
      hs.message = detail
    end
    return hs
  end
end
return hs

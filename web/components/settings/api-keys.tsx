"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { $api, type Schemas } from "@/lib/api/client";
import { formatDateTime } from "@/lib/format";
import { useTimeZone } from "@/lib/session";
import { CopyButton } from "../copy-button";
import { ErrorNotice } from "../error-notice";

/** The tenant's API keys (owners only): list, create (the token is shown once), revoke. */
export function ApiKeys({ canEdit }: { canEdit: boolean }) {
  const timeZone = useTimeZone();
  const queryClient = useQueryClient();
  const keys = $api.useQuery("get", "/api/v1/apikeys", {}, { enabled: canEdit });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["get", "/api/v1/apikeys"] });
  const create = $api.useMutation("post", "/api/v1/apikeys", { onSuccess: refresh });
  const revoke = $api.useMutation("delete", "/api/v1/apikeys/{key_id}", { onSuccess: refresh });
  const [name, setName] = useState("");
  const [created, setCreated] = useState<Schemas["CreatedApiKey"] | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!name.trim()) return;
    const key = await create.mutateAsync({ body: { name: name.trim() } }).catch(() => null);
    if (key) {
      setCreated(key);
      setName("");
    }
  }

  function onRevoke(key: Schemas["ApiKeyItem"]) {
    if (window.confirm(`Revoke the API key “${key.name}”? Anything using it stops working.`)) {
      revoke.mutate({ params: { path: { key_id: key.id } } });
    }
  }

  return (
    <section aria-labelledby="apikeys-title" className="card p-4">
      <h2 id="apikeys-title" className="mb-3 text-base font-semibold">
        API keys
      </h2>
      {!canEdit ? <p className="text-sm text-slate-600">Only an owner can see and manage API keys.</p> : null}
      {keys.error ? <ErrorNotice error={keys.error} /> : null}
      {created ? (
        <div role="status" className="mb-3 rounded-md border border-emerald-200 bg-emerald-50 p-3 text-sm">
          <p className="font-medium">Key “{created.name}” created. Copy it now: it is not shown again.</p>
          <div className="mt-2 flex items-center gap-2">
            <code className="min-w-0 flex-1 break-all rounded bg-white px-2 py-1 text-xs">{created.token}</code>
            <CopyButton text={created.token} label="Copy the new API key" />
          </div>
        </div>
      ) : null}
      {keys.data && keys.data.items.length > 0 ? (
        <ul className="mb-3 divide-y divide-slate-100 rounded-md border border-slate-200">
          {keys.data.items.map((k) => (
            <li key={k.id} className="flex flex-wrap items-center justify-between gap-2 px-3 py-2 text-sm">
              <span>
                <span className="font-medium">{k.name}</span> <code className="text-xs text-slate-500">{k.prefix}…</code>
                <span className="block text-xs text-slate-500">Created {formatDateTime(k.created_at, timeZone)}</span>
              </span>
              <button type="button" className="btn-danger px-2 py-1 text-xs" onClick={() => onRevoke(k)} aria-label={`Revoke ${k.name}`}>
                Revoke
              </button>
            </li>
          ))}
        </ul>
      ) : keys.data ? (
        <p className="mb-3 text-sm text-slate-600">No API keys.</p>
      ) : null}
      {canEdit ? (
        <form onSubmit={submit} className="flex flex-wrap items-end gap-2">
          <div className="min-w-48 flex-1">
            <label htmlFor="apikey-name" className="label">
              New key name
            </label>
            <input id="apikey-name" className="input" value={name} onChange={(e) => setName(e.target.value)} maxLength={100} />
          </div>
          <button type="submit" className="btn-secondary" disabled={!name.trim() || create.isPending}>
            Create API key
          </button>
        </form>
      ) : null}
      {create.error ? <div className="mt-2"><ErrorNotice error={create.error} /></div> : null}
      {revoke.error ? <div className="mt-2"><ErrorNotice error={revoke.error} /></div> : null}
    </section>
  );
}

"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { useForm } from "react-hook-form";
import { $api, errorField, errorMessage, type Schemas } from "@/lib/api/client";
import { formatPhone } from "@/lib/format";

type Changes = Schemas["TenantChanges"];
type Settings = Schemas["TenantSettings"];
export type SettingName = keyof Changes & string;

export type FieldSpec = {
  name: SettingName;
  label: string;
  kind?: "text" | "tel" | "url" | "number" | "textarea" | "checkbox" | "secret" | "list";
  hint?: string;
  /** Empty clears the setting (null) instead of being refused. */
  optional?: boolean;
};

type Values = Record<string, string | boolean>;

function initial(settings: Settings, fields: FieldSpec[]): Values {
  const values: Values = {};
  for (const f of fields) {
    const current = f.kind === "secret" ? "" : (settings as Record<string, unknown>)[f.name];
    if (f.kind === "checkbox") values[f.name] = Boolean(current);
    else if (current === null || current === undefined) values[f.name] = "";
    else if (Array.isArray(current)) values[f.name] = current.map((v) => formatPhone(String(v))).join(", ");
    else values[f.name] = f.kind === "tel" ? formatPhone(String(current)) : String(current);
  }
  return values;
}

/** The changes a form makes: only the fields that differ from `before`; empty optional fields
 * as null; numbers as numbers (what is not one goes as typed, for the API to name); a list as
 * its comma-separated items. A blank secret is left as it is. */
export function changesOf(fields: FieldSpec[], values: Values, before: Values): Changes {
  const changes: Record<string, unknown> = {};
  for (const f of fields) {
    if (values[f.name] === before[f.name]) continue;
    const value = values[f.name];
    if (f.kind === "checkbox") changes[f.name] = Boolean(value);
    else if (typeof value === "string") {
      const text = value.trim();
      if (f.kind === "secret" && text === "") continue;
      if (f.kind === "list") changes[f.name] = text.split(/[,;]/).map((v) => v.trim()).filter(Boolean);
      else if (text === "" && f.optional) changes[f.name] = null;
      else if (f.kind === "number" && /^-?\d+$/.test(text)) changes[f.name] = Number(text);
      else changes[f.name] = f.kind === "textarea" ? value : text;
    }
  }
  return changes as Changes;
}

/** One section of the tenant's settings as its own form: PATCH /api/v1/tenant with what
 * changed; the API's 422 is shown on the field it names. */
export function TenantForm({ title, settings, fields, canEdit, children }: {
  title: string;
  settings: Settings;
  fields: FieldSpec[];
  canEdit: boolean;
  children?: React.ReactNode;
}) {
  const queryClient = useQueryClient();
  const headingId = useId();
  const { register, handleSubmit, formState, setError, reset } = useForm<Values>({ defaultValues: initial(settings, fields) });
  const patch = $api.useMutation("patch", "/api/v1/tenant");
  const [status, setStatus] = useState<string | null>(null);
  const [formError, setFormError] = useState<string | null>(null);

  const submit = handleSubmit(async (values) => {
    setStatus(null);
    setFormError(null);
    const changes = changesOf(fields, values, initial(settings, fields));
    if (Object.keys(changes).length === 0) {
      setStatus("Nothing to save.");
      return;
    }
    try {
      const updated = await patch.mutateAsync({ body: changes });
      queryClient.setQueryData(["get", "/api/v1/tenant", {}], updated);
      reset(initial(updated, fields));
      setStatus("Saved.");
    } catch (error) {
      const field = errorField(error);
      const message = errorMessage(error, "Not saved.");
      if (field && fields.some((f) => f.name === field)) setError(field, { type: "server", message }, { shouldFocus: true });
      else setFormError(message);
    }
  });

  return (
    <section aria-labelledby={headingId} className="card p-4">
      <h2 id={headingId} className="mb-3 text-base font-semibold">
        {title}
      </h2>
      {children}
      <form onSubmit={submit} noValidate>
        <fieldset disabled={!canEdit} className="grid gap-3 sm:grid-cols-2">
          {fields.map((f) => (
            <SettingInput key={f.name} spec={f} settings={settings} register={register} error={formState.errors[f.name]?.message} />
          ))}
        </fieldset>
        <div className="mt-3 flex flex-wrap items-center gap-3">
          <button type="submit" className="btn-primary" disabled={!canEdit || formState.isSubmitting}>
            Save {title.toLowerCase()}
          </button>
          <span role="status" className="text-sm text-emerald-800">
            {status}
          </span>
          {formError ? (
            <p role="alert" className="text-sm text-red-700">
              {formError}
            </p>
          ) : null}
        </div>
      </form>
    </section>
  );
}

function SettingInput({ spec, settings, register, error }: {
  spec: FieldSpec;
  settings: Settings;
  register: ReturnType<typeof useForm<Values>>["register"];
  error: string | undefined;
}) {
  const id = useId();
  const describedBy = [error ? `${id}-e` : null, spec.hint ? `${id}-h` : null].filter(Boolean).join(" ") || undefined;
  const common = { id, "aria-invalid": error ? true : undefined, "aria-describedby": describedBy, ...register(spec.name) };
  if (spec.kind === "checkbox") {
    return (
      <div className="flex items-start gap-2 sm:col-span-2">
        <input type="checkbox" className="mt-1" {...common} />
        <div>
          <label htmlFor={id} className="text-sm font-medium text-slate-700">
            {spec.label}
          </label>
          {spec.hint ? <p id={`${id}-h`} className="text-xs text-slate-500">{spec.hint}</p> : null}
        </div>
      </div>
    );
  }
  const secretSet = spec.kind === "secret" && (settings as Record<string, unknown>)[`${spec.name}_set`] === true;
  return (
    <div className={spec.kind === "textarea" ? "sm:col-span-2" : undefined}>
      <label htmlFor={id} className="label">
        {spec.label}
      </label>
      {spec.kind === "textarea" ? (
        <textarea rows={4} className="input" {...common} />
      ) : (
        <input
          type={spec.kind === "secret" ? "password" : spec.kind === "number" ? "text" : (spec.kind ?? "text")}
          inputMode={spec.kind === "number" ? "numeric" : undefined}
          autoComplete={spec.kind === "secret" ? "new-password" : "off"}
          placeholder={spec.kind === "secret" ? (secretSet ? "Set (type to replace)" : "Not set") : undefined}
          className="input"
          {...common}
        />
      )}
      {spec.hint ? <p id={`${id}-h`} className="mt-1 text-xs text-slate-500">{spec.hint}</p> : null}
      {error ? <p id={`${id}-e`} className="field-error">{error}</p> : null}
    </div>
  );
}

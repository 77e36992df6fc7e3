"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useFieldArray, useForm, type FieldPath } from "react-hook-form";
import { $api, errorField, errorMessage, type Schemas } from "@/lib/api/client";
import { EMPTY_MODIFIER, EMPTY_SERVICE, formFieldOf, toBook, toForm, type BookForm } from "@/lib/pricebook-form";
import { Field } from "./field";

/** The price book as a form. Saving PUTs the whole book; the API validates it as `lily
 * pricebook import` does and its 422 names the field, which is shown on that input. */
export function PriceBookEditor({ current, canEdit }: { current: Schemas["PriceBookOut"] | null; canEdit: boolean }) {
  const queryClient = useQueryClient();
  const form = useForm<BookForm>({ defaultValues: toForm(current?.book ?? null) });
  const { register, handleSubmit, formState, setError, reset, control } = form;
  const errors = formState.errors;
  const services = useFieldArray({ control, name: "services" });
  const modifiers = useFieldArray({ control, name: "modifiers" });
  const [formError, setFormError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const put = $api.useMutation("put", "/api/v1/pricebook");

  const submit = handleSubmit(async (values) => {
    setFormError(null);
    setSaved(null);
    try {
      const result = await put.mutateAsync({ body: { book: toBook(values) } });
      reset(toForm(result.book));
      setSaved(result.version === current?.version ? "No changes: still version " + result.version : `Saved as version ${result.version}.`);
      await queryClient.invalidateQueries({ queryKey: ["get", "/api/v1/pricebook"] });
      await queryClient.invalidateQueries({ queryKey: ["post", "/api/v1/quotes/preview"] });
    } catch (error) {
      const field = formFieldOf(errorField(error));
      const message = errorMessage(error, "The price book was not saved.");
      if (field) setError(field as FieldPath<BookForm>, { type: "server", message }, { shouldFocus: true });
      else setFormError(message);
    }
  });

  // Inputs stay enabled while saving: a disabled input cannot take the focus an error gives it.
  const disabled = !canEdit;
  return (
    <form onSubmit={submit} noValidate className="space-y-6" aria-label="Price book">
      <fieldset disabled={disabled} className="card space-y-3 p-4">
        <legend className="px-1 text-sm font-semibold">General</legend>
        <div className="grid grid-cols-2 gap-3 sm:grid-cols-3">
          <Field label="Currency" {...register("currency")} error={errors.currency} maxLength={3} />
          <Field label="Minimum charge" inputMode="decimal" {...register("minimum_charge")} error={errors.minimum_charge} />
          <Field label="Round to" inputMode="decimal" {...register("round_to")} error={errors.round_to} />
        </div>
      </fieldset>

      <fieldset disabled={disabled} className="card space-y-3 p-4">
        <legend className="px-1 text-sm font-semibold">Service area</legend>
        <div className="grid grid-cols-2 gap-3 sm:grid-cols-4">
          <Field label="Base ZIP" inputMode="numeric" {...register("service_area.base_zip")} error={errors.service_area?.base_zip} />
          <Field label="Radius (miles)" inputMode="decimal" {...register("service_area.radius_miles")} error={errors.service_area?.radius_miles} />
          <Field label="Free miles" inputMode="decimal" {...register("service_area.free_miles")} error={errors.service_area?.free_miles} />
          <Field label="Travel fee per mile" inputMode="decimal" {...register("service_area.travel_fee_per_mile")} error={errors.service_area?.travel_fee_per_mile} />
        </div>
        <div className="grid gap-3 sm:grid-cols-2">
          <Field label="Extra ZIPs (always served)" hint="Comma-separated" {...register("service_area.extra_zips")} error={errors.service_area?.extra_zips} />
          <Field label="Excluded ZIPs (never served)" hint="Comma-separated" {...register("service_area.excluded_zips")} error={errors.service_area?.excluded_zips} />
        </div>
      </fieldset>

      <fieldset disabled={disabled} className="card p-4">
        <legend className="px-1 text-sm font-semibold">Services</legend>
        <ul className="space-y-4">
          {services.fields.map((row, i) => {
            const e = errors.services?.[i];
            const n = i + 1;
            return (
              <li key={row.id} className="grid grid-cols-2 gap-2 border-b border-slate-100 pb-4 sm:grid-cols-12">
                <Field className="sm:col-span-2" label={<RowLabel kind="Service" n={n}>Key</RowLabel>} {...register(`services.${i}.key`)} error={e?.key} />
                <Field className="sm:col-span-3" label={<RowLabel kind="Service" n={n}>Name</RowLabel>} {...register(`services.${i}.name`)} error={e?.name} />
                <Field className="col-span-2 sm:col-span-3" label={<RowLabel kind="Service" n={n}>Keywords</RowLabel>} hint="Comma-separated" {...register(`services.${i}.keywords`)} error={e?.keywords} />
                <Field className="sm:col-span-2" label={<RowLabel kind="Service" n={n}>Low</RowLabel>} inputMode="decimal" {...register(`services.${i}.low`)} error={e?.low} />
                <Field className="sm:col-span-2" label={<RowLabel kind="Service" n={n}>High</RowLabel>} inputMode="decimal" {...register(`services.${i}.high`)} error={e?.high} />
                <div className="col-span-2 flex items-center justify-between gap-2 sm:col-span-12">
                  <label className="inline-flex items-center gap-2 text-sm">
                    <input type="checkbox" {...register(`services.${i}.isDefault`)} />
                    Priced when the customer names no service
                  </label>
                  <button type="button" className="text-sm text-red-700 hover:underline" onClick={() => services.remove(i)}>
                    Remove service {n}
                  </button>
                </div>
              </li>
            );
          })}
        </ul>
        <button type="button" className="btn-secondary mt-3" onClick={() => services.append({ ...EMPTY_SERVICE })}>
          Add a service
        </button>
      </fieldset>

      <fieldset disabled={disabled} className="card p-4">
        <legend className="px-1 text-sm font-semibold">Modifiers</legend>
        {modifiers.fields.length === 0 ? <p className="text-sm text-slate-600">None: every quote is the services&apos; sum.</p> : null}
        <ul className="space-y-4">
          {modifiers.fields.map((row, i) => {
            const e = errors.modifiers?.[i];
            const n = i + 1;
            return (
              <li key={row.id} className="grid grid-cols-2 gap-2 border-b border-slate-100 pb-4 sm:grid-cols-12">
                <Field className="sm:col-span-2" label={<RowLabel kind="Modifier" n={n}>Key</RowLabel>} {...register(`modifiers.${i}.key`)} error={e?.key} />
                <Field className="sm:col-span-3" label={<RowLabel kind="Modifier" n={n}>Name</RowLabel>} {...register(`modifiers.${i}.name`)} error={e?.name} />
                <Field className="col-span-2 sm:col-span-5" label={<RowLabel kind="Modifier" n={n}>Keywords</RowLabel>} hint="Comma-separated" {...register(`modifiers.${i}.keywords`)} error={e?.keywords} />
                <Field className="sm:col-span-2" label={<RowLabel kind="Modifier" n={n}>Multiplier</RowLabel>} inputMode="decimal" {...register(`modifiers.${i}.multiplier`)} error={e?.multiplier} />
                <div className="col-span-2 flex justify-end sm:col-span-12">
                  <button type="button" className="text-sm text-red-700 hover:underline" onClick={() => modifiers.remove(i)}>
                    Remove modifier {n}
                  </button>
                </div>
              </li>
            );
          })}
        </ul>
        <button type="button" className="btn-secondary mt-3" onClick={() => modifiers.append({ ...EMPTY_MODIFIER })}>
          Add a modifier
        </button>
      </fieldset>

      <div className="sticky bottom-0 flex flex-wrap items-center gap-3 border-t border-slate-200 bg-slate-50/95 py-3">
        <button type="submit" className="btn-primary" disabled={disabled || formState.isSubmitting}>
          Save price book
        </button>
        {!canEdit ? <span className="text-sm text-slate-600">Only an owner can change the price book.</span> : null}
        <span role="status" className="text-sm text-emerald-800">
          {saved}
        </span>
        {formError ? (
          <p role="alert" className="text-sm text-red-700">
            {formError}
          </p>
        ) : null}
        {Object.keys(errors).length > 0 && !formError ? (
          <p role="alert" className="text-sm text-red-700">
            Not saved: fix the field marked in red.
          </p>
        ) : null}
      </div>
    </form>
  );
}

/** "Low" on screen, "Service 2 Low" to a screen reader: each row's inputs have their own name. */
function RowLabel({ kind, n, children }: { kind: string; n: number; children: string }) {
  return (
    <>
      <span className="sr-only">
        {kind} {n}{" "}
      </span>
      {children}
    </>
  );
}

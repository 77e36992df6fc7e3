import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { stubApi } from "@/test/render";
import { SignInForm, safeNext } from "./signin-form";

vi.mock("next/navigation", () => ({ useSearchParams: () => new URLSearchParams("next=/leads/?status=new") }));

describe("SignInForm", () => {
  it("signs in with Email and Password, then goes where it was asked", async () => {
    const assign = vi.fn();
    vi.stubGlobal("location", { ...window.location, pathname: "/signin/", assign });
    const requests = stubApi({ "POST /api/v1/auth/session": () => ({ status: 200, body: { expires_in: 3600, csrf_token: "t" } }) });
    render(<SignInForm />);
    await userEvent.type(screen.getByLabelText("Email"), "owner@acme.test");
    await userEvent.type(screen.getByLabelText("Password"), "secret");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await requests[0]?.json()).toEqual({ email: "owner@acme.test", password: "secret" });
    expect(assign).toHaveBeenCalledWith("/leads/?status=new");
  });

  it("says what the API says to wrong credentials", async () => {
    stubApi({
      "POST /api/v1/auth/session": () => ({ status: 401, body: { error: { code: "unauthorized", message: "wrong email or password" } } }),
    });
    render(<SignInForm />);
    await userEvent.type(screen.getByLabelText("Email"), "owner@acme.test");
    await userEvent.type(screen.getByLabelText("Password"), "nope");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("wrong email or password");
  });

  it("goes nowhere but this origin after signing in", () => {
    expect(safeNext("//evil.example/")).toBe("/inbox/");
    expect(safeNext("https://evil.example/")).toBe("/inbox/");
    expect(safeNext("/signin/")).toBe("/inbox/");
    expect(safeNext(null)).toBe("/inbox/");
    expect(safeNext("/stats/")).toBe("/stats/");
  });
});

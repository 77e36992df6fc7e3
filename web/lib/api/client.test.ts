import { describe, expect, it, vi } from "vitest";
import { stubApi } from "@/test/render";
import { csrfHeader, fetchClient, readCookie } from "./client";

describe("the CSRF token", () => {
  it("is read from the lily_csrf cookie", () => {
    expect(readCookie("lily_csrf", "a=1; lily_csrf=tok%3Den; b=2")).toBe("tok=en");
    expect(readCookie("lily_csrf", "a=1")).toBeNull();
  });

  it("goes with writes only", () => {
    document.cookie = "lily_csrf=abc; path=/";
    expect(csrfHeader("POST")).toEqual({ "X-CSRF-Token": "abc" });
    expect(csrfHeader("delete")).toEqual({ "X-CSRF-Token": "abc" });
    expect(csrfHeader("GET")).toEqual({});
  });

  it("is sent by the client on a POST and not on a GET", async () => {
    document.cookie = "lily_csrf=abc; path=/";
    const requests = stubApi({
      "POST /api/v1/leads/l1/read": () => ({ status: 204 }),
      "GET /api/v1/me": () => ({ status: 200, body: {} }),
    });
    await fetchClient.POST("/api/v1/leads/{lead_id}/read", { params: { path: { lead_id: "l1" } } });
    await fetchClient.GET("/api/v1/me");
    expect(requests[0]?.headers.get("X-CSRF-Token")).toBe("abc");
    expect(requests[1]?.headers.get("X-CSRF-Token")).toBeNull();
  });
});

describe("a 401", () => {
  it("sends the browser to the sign-in page, remembering where it was", async () => {
    const assign = vi.fn();
    vi.stubGlobal("location", { ...window.location, pathname: "/leads/", search: "?status=new", assign });
    stubApi({ "GET /api/v1/me": () => ({ status: 401, body: { error: { code: "unauthorized", message: "no" } } }) });
    await fetchClient.GET("/api/v1/me");
    expect(assign).toHaveBeenCalledWith("/signin/?next=%2Fleads%2F%3Fstatus%3Dnew");
  });

  it("from the sign-in itself does not", async () => {
    const assign = vi.fn();
    vi.stubGlobal("location", { ...window.location, pathname: "/signin/", search: "", assign });
    stubApi({ "POST /api/v1/auth/session": () => ({ status: 401, body: { error: { code: "unauthorized", message: "wrong" } } }) });
    await fetchClient.POST("/api/v1/auth/session", { body: { email: "a@b.c", password: "x" } });
    expect(assign).not.toHaveBeenCalled();
  });
});

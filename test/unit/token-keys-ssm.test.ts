/**
 * The cloud's token key ring in an SSM SecureString (adapters/auth/keys-ssm.ts), against a
 * recording stand-in of Parameter Store's documented behaviour: GetParameter answers
 * ParameterNotFound for a missing name; PutParameter with Overwrite=false answers
 * ParameterAlreadyExists; every write is a new version. No SSM stand-in runs here, so the fake is
 * the reference for those three rules only; the real service has not been called from here.
 */
import {
  GetParameterCommand,
  type GetParameterCommandOutput,
  type PutParameterCommand,
  type PutParameterCommandOutput,
} from "@aws-sdk/client-ssm";
import { describe, expect, it } from "vitest";
import { ssmKeyRing } from "../../adapters/auth/keys-ssm.ts";
import { TokenService } from "../../adapters/auth/tokens.ts";
import { MemoryMetadataStore } from "../../core/metadata/memory-store.ts";
import { failureOf } from "../support/errors.ts";

const NAME = "/strata/app/test/token-keys";

class FakeParameterStore {
  value: string | undefined;
  version = 0;
  readonly calls: Array<{ op: string; input: Record<string, unknown> }> = [];
  denyReads = false;

  async send(command: GetParameterCommand): Promise<GetParameterCommandOutput>;
  async send(command: PutParameterCommand): Promise<PutParameterCommandOutput>;
  async send(command: GetParameterCommand | PutParameterCommand): Promise<unknown> {
    await Promise.resolve(); // an await point, like the network, so concurrent starts interleave
    const input = command.input as unknown as Record<string, unknown>;
    if (command instanceof GetParameterCommand) {
      this.calls.push({ op: "get", input });
      if (this.denyReads)
        throw Object.assign(new Error("User is not authorized"), { name: "AccessDeniedException" });
      if (this.value === undefined)
        throw Object.assign(new Error("not found"), { name: "ParameterNotFound" });
      return { Parameter: { Name: NAME, Type: "SecureString", Value: this.value, Version: this.version } };
    }
    this.calls.push({ op: "put", input });
    if (this.value !== undefined && input.Overwrite !== true)
      throw Object.assign(new Error("exists"), { name: "ParameterAlreadyExists" });
    this.value = String(input.Value);
    this.version++;
    return { Version: this.version };
  }
}

function container(ssm: FakeParameterStore, now: { t: number }) {
  const keys = ssmKeyRing({ client: ssm, name: NAME, cacheMs: 60_000, clock: () => now.t });
  return { keys, open: () => TokenService.open(new MemoryMetadataStore(), keys, () => now.t) };
}

describe("token keys in an SSM SecureString", () => {
  it("the first cold start creates the parameter as a SecureString; racing starts end with one ring", async () => {
    const ssm = new FakeParameterStore();
    const now = { t: Date.parse("2030-01-01T00:00:00Z") };
    const [a, b] = [container(ssm, now), container(ssm, now)];
    const [ra, rb] = await Promise.all([a.keys.ring(), b.keys.ring()]);
    expect(ra.keys.map((k) => k.id)).toEqual(rb.keys.map((k) => k.id));
    expect(ssm.version).toBe(1); // the loser's create-only put was refused, not applied
    const puts = ssm.calls.filter((c) => c.op === "put");
    expect(puts.every((c) => c.input.Type === "SecureString")).toBe(true);
    expect(ssm.calls.filter((c) => c.op === "get").every((c) => c.input.WithDecryption === true)).toBe(true);
  });

  it("reads are cached; a token signed with a key the cache lacks makes one fresh read and verifies", async () => {
    const ssm = new FakeParameterStore();
    const now = { t: Date.parse("2030-01-01T00:00:00Z") };
    const a = container(ssm, now);
    const b = container(ssm, now);
    // Both containers share one table, like two Lambda containers of one deployment.
    const store = new MemoryMetadataStore();
    const tokensA = await TokenService.open(store, a.keys, () => now.t);
    const tokensB = await TokenService.open(store, b.keys, () => now.t);
    const first = await tokensA.create({ pfs: "p", prefix: "/", rights: ["read"], ttlSeconds: 600 });
    await tokensB.verify(first.token);
    const reads = ssm.calls.filter((c) => c.op === "get").length;
    await tokensB.verify(first.token);
    expect(ssm.calls.filter((c) => c.op === "get").length).toBe(reads); // cached

    await tokensA.rotateKey();
    const second = await tokensA.create({ pfs: "p", prefix: "/", rights: ["read"], ttlSeconds: 600 });
    expect(second.token.split(".")[1]).not.toBe(first.token.split(".")[1]);
    await expect(tokensB.verify(second.token)).resolves.toMatchObject({ tokenId: second.id });
    await expect(tokensB.verify(first.token)).resolves.toMatchObject({ tokenId: first.id }); // two active keys
  });

  it("a retired key stops verifying in other containers once their cache expires", async () => {
    const ssm = new FakeParameterStore();
    const now = { t: Date.parse("2030-01-01T00:00:00Z") };
    const store = new MemoryMetadataStore();
    const a = container(ssm, now);
    const b = container(ssm, now);
    const tokensA = await TokenService.open(store, a.keys, () => now.t);
    const tokensB = await TokenService.open(store, b.keys, () => now.t);
    const old = await tokensA.create({ pfs: "p", prefix: "/", rights: ["read"], ttlSeconds: 6000 });
    await tokensB.verify(old.token);
    await tokensA.rotateKey();
    await tokensA.retireKeys();
    expect((await failureOf(tokensA.verify(old.token))).code).toBe("EACCES");
    now.t += 61_000; // past B's cache
    expect((await failureOf(tokensB.verify(old.token))).code).toBe("EACCES");
  });

  it("access denied is EACCES naming the permission to grant, and never echoes a key", async () => {
    const ssm = new FakeParameterStore();
    ssm.value = "k1:" + Buffer.alloc(32, 7).toString("base64url");
    ssm.denyReads = true;
    const err = await failureOf(container(ssm, { t: 0 }).open());
    expect(err.code).toBe("EACCES");
    expect(err.message).toContain("ssm:GetParameter");
    expect(err.message).not.toContain(Buffer.alloc(32, 7).toString("base64url"));
  });

  it("a malformed parameter value is EINVAL without echoing it", async () => {
    const ssm = new FakeParameterStore();
    ssm.value = "not-a-ring-secret-text";
    const err = await failureOf(container(ssm, { t: 0 }).open());
    expect(err.code).toBe("EINVAL");
    expect(err.message).not.toContain("not-a-ring-secret-text");
  });
});

/**
 * The staging protocol of presigned uploads (core/data/uploads.ts), on one volume kind: a PUT URL
 * names only a per-upload staging key, so its holder cannot overwrite a final chunk key others
 * already verified; an upload that never commits leaves nothing but the staging objects its
 * intent names (what vacuum deletes once it expires); a commit moves staged chunks to their final
 * keys and removes the staged objects.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crc32c } from "../../core/crc32c.ts";
import { chunkObjectKey, intentPk } from "../../core/data/chunk-items.ts";
import { decodeSession, stagedObjects } from "../../core/data/uploads.ts";
import type { Volume } from "../../core/volume/volume.ts";
import type { Strata } from "../../sdk/index.ts";
import { type ApiFixture, startApiFixture, type VolumeKind } from "../support/api-server.ts";
import { failureOf } from "../support/errors.ts";

const CHUNK = 64 * 1024;
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

type Upload = { url: string; method: string; headers: Record<string, string> };
type ChunkAnswer = { sha256: string; present: boolean; upload?: Upload };

function bytesOf(seed: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (seed * 131 + i * 7 + (i >> 9)) & 0xff;
  return out;
}

export function testUploadStaging(kind: VolumeKind, endpoint: string | undefined): void {
  describe(`upload staging keys: ${kind} volume`, () => {
    let fx: ApiFixture | undefined;
    let client: Strata;
    let v: Volume | undefined;
    beforeAll(async () => {
      if (kind !== "local" && endpoint === undefined) return;
      fx = await startApiFixture(kind, endpoint, { chunkSize: CHUNK });
      client = await fx.client();
      v = await fx.deployment.services.volumes.volume("v");
    });
    afterAll(async () => {
      await client?.close();
      await fx?.dispose();
    });

    const call = <T>(op: string, input: Record<string, unknown>) =>
      client.admin.call<T>(op, { pfs: "default", ...input });
    const volume = () => v!;
    const store = () => fx!.deployment.services.store;
    async function allKeys(): Promise<string[]> {
      const keys: string[] = [];
      for await (const page of volume().listAll("")) keys.push(...page.map((e) => e.key));
      return keys;
    }
    async function chunkUrls(uploadId: string, chunks: Uint8Array[]): Promise<ChunkAnswer[]> {
      const answer = await call<{ chunks: ChunkAnswer[] }>("upload.chunks", {
        uploadId,
        chunks: chunks.map((c) => ({ sha256: sha(c), size: c.length, crc32c: crc32c(c) })),
      });
      return answer.chunks;
    }
    const put = (u: Upload, body: Uint8Array) => fetch(u.url, { method: u.method, headers: u.headers, body });

    it("a PUT URL names only its staging key: its holder cannot overwrite a stored chunk", async (ctx) => {
      if (!fx) return ctx.skip(`STRATA_STANDINS excludes ${kind}`);
      const shared = bytesOf(1, CHUNK);
      await client.writeFile("/shared.bin", shared);
      const finalKey = chunkObjectKey(sha(shared));
      expect((await volume().head(finalKey)).size).toBe(CHUNK);

      const { uploadId } = await call<{ uploadId: string }>("upload.begin", { path: "/thief.bin" });
      const [answer] = await chunkUrls(uploadId, [shared]);
      expect(answer!.present).toBe(false);
      const url = decodeURIComponent(answer!.upload!.url);
      expect(url).toContain(`staging/${uploadId}/${sha(shared)}`);
      expect(url).not.toContain(finalKey);

      // Other bytes of the same size through the URL, twice: the stored chunk never changes.
      const liar = bytesOf(2, CHUNK);
      await put(answer!.upload!, liar);
      await put(answer!.upload!, liar);
      expect(Buffer.from(await volume().getBytes(finalKey)).equals(Buffer.from(shared))).toBe(true);
      const extent = { offset: 0, length: CHUNK, chunk: sha(shared), crc32c: crc32c(shared) };
      const refused = await failureOf(
        call("upload.commit", { uploadId, path: "/thief.bin", content: { size: CHUNK, extents: [extent] } }),
      );
      expect(["EINVAL", "ECORRUPT"]).toContain(refused.code);
      expect(Buffer.from(await client.readFile("/shared.bin")).equals(Buffer.from(shared))).toBe(true);
      expect(Buffer.from(await volume().getBytes(finalKey)).equals(Buffer.from(shared))).toBe(true);
    });

    it("an uncommitted upload leaves only staging objects its intent names; a commit moves them", async (ctx) => {
      if (!fx) return ctx.skip(`STRATA_STANDINS excludes ${kind}`);
      const before = new Set(await allKeys());
      const chunks = [bytesOf(3, CHUNK), bytesOf(4, CHUNK), bytesOf(5, 1000)];
      const { uploadId } = await call<{ uploadId: string }>("upload.begin", { path: "/left.bin" });
      for (const [n, answer] of (await chunkUrls(uploadId, chunks)).entries())
        expect((await put(answer.upload!, chunks[n]!)).status).toBeLessThan(300);

      const added = (await allKeys()).filter((k) => !before.has(k)).sort();
      const intent = await store().get({ pk: intentPk("default"), sk: uploadId });
      const named = stagedObjects(intent!);
      expect(named.every((o) => o.volume === "v")).toBe(true);
      expect(added).toEqual(named.map((o) => o.key).sort());
      expect(added).toHaveLength(3);
      for (const c of chunks) await expect(volume().head(chunkObjectKey(sha(c)))).rejects.toThrow();

      // The same chunks committed by a second upload: final keys appear, staged objects go.
      const second = await call<{ uploadId: string }>("upload.begin", { path: "/done.bin" });
      for (const [n, answer] of (await chunkUrls(second.uploadId, chunks)).entries())
        expect((await put(answer.upload!, chunks[n]!)).status).toBeLessThan(300);
      let offset = 0;
      const extents = chunks.map((c) => {
        const e = { offset, length: c.length, chunk: sha(c), crc32c: crc32c(c) };
        offset += c.length;
        return e;
      });
      await call("upload.commit", {
        uploadId: second.uploadId,
        path: "/done.bin",
        content: { size: offset, extents },
      });
      const after = new Set(await allKeys());
      for (const c of chunks) expect(after.has(chunkObjectKey(sha(c)))).toBe(true);
      for (const c of chunks) expect(after.has(`staging/${second.uploadId}/${sha(c)}`)).toBe(false);
      const whole = Buffer.concat(chunks.map((c) => Buffer.from(c)));
      expect(Buffer.from(await client.readFile("/done.bin")).equals(whole)).toBe(true);

      // The committed upload's intent protects no chunk but still names its staging keys (its
      // URLs stay valid a while); the uncommitted one's objects are untouched.
      const settled = decodeSession((await store().get({ pk: intentPk("default"), sk: second.uploadId }))!);
      expect(settled).toMatchObject({ committed: true, chunks: [] });
      expect(
        stagedObjects((await store().get({ pk: intentPk("default"), sk: second.uploadId }))!),
      ).toHaveLength(3);
      for (const key of named.map((o) => o.key)) expect(after.has(key)).toBe(true);
    });
  });
}

/** Logical mirroring: the stream, mirrors, promotion, backups (docs/mirroring.md). */
export * from "./apply.ts";
export * from "./backup.ts";
export * from "./chunks.ts";
export * from "./definitions.ts";
export * from "./format.ts";
export * from "./full.ts";
export * from "./local-source.ts";
export * from "./mirror.ts";
export * from "./multimaster.ts";
export * from "./port.ts";
export * from "./stream.ts";

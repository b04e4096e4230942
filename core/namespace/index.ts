/** The namespace engine: `createNamespace({ store })` gives a {@link Namespace} (core/namespace/api.ts). */
export type * from "./api.ts";
export { createNamespace } from "./create.ts";
export { type CreateNamespaceParams, type NamespaceOptions, NS_LIMITS } from "./engine.ts";
export { NAME_MAX, PATH_MAX } from "./path.ts";
export { dateToTid, tidToDate } from "./tid.ts";

/**
 * What a reconcile pass decided, as data (the plan prints these; the engine
 * logs them and acts through nodeStates). Every action says why.
 */
export type Action =
  | { type: 'createPod'; namespace: string; name: string; uid: string; owner?: string; node?: string; scores?: Record<string, number>; reason: string }
  | { type: 'bindPod'; namespace: string; name: string; uid: string; node: string; scores: Record<string, number>; reason: string }
  | { type: 'unschedulable'; namespace: string; name: string; uid: string; message: string }
  | { type: 'deletePod'; namespace: string; name: string; uid: string; node?: string; owner?: string; reason: string }
  | { type: 'rolloutStep'; workload: string; step: string }
  | { type: 'allocateService'; service: string; clusterIP: string; nodePorts: number[] }
  | { type: 'releaseService'; service: string; clusterIP: string }
  | { type: 'endpoints'; service: string; port: string; added: string[]; removed: string[] }
  | { type: 'nodeCondition'; node: string; condition: string; status: string; reason: string }
  | { type: 'configError'; workload: string; message: string };

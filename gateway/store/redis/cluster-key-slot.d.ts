// The package ioredis itself uses to route keys (https://github.com/Salakar/cluster-key-slot),
// which ships no types.
declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot of a key (its {hash tag} if it has one), 0 to 16383. */
  export default function calculateSlot (key: string | Buffer): number
}

// PLACEHOLDER until the auth work lands: the sections authentication / authorization /
// flapping_detect / banned follow EMQX's names (shared/specs/emqx-broker-behaviour.md §7–§8).
export const authConfigShape = {};

/**
 * Over-optimisation alarm (benchmarks.md B2): fires at the evaluation where the proxy reward
 * has risen while the gold score has fallen for K consecutive evaluations — the signature of
 * implicit over-optimisation (proxy up, real quality down). Pure state machine; its state is
 * plain data so checkpoints carry it.
 */
export interface AlarmState {
  previous: { proxy: number; gold: number } | null;
  streak: number;
  /** Epoch at which the alarm first fired, or null. */
  firedAt: number | null;
  /** Best gold score seen and its epoch (for rollback). */
  best: { gold: number; epoch: number } | null;
}

export const initialAlarmState = (): AlarmState => ({ previous: null, streak: 0, firedAt: null, best: null });

/** Feed one evaluation; returns the new state and whether the alarm fired *now*. */
export function updateAlarm(state: AlarmState, epoch: number, proxy: number, gold: number, patience: number): { state: AlarmState; fired: boolean; improved: boolean } {
  const streak = state.previous && proxy > state.previous.proxy && gold < state.previous.gold ? state.streak + 1 : 0;
  const fired = state.firedAt === null && streak >= patience;
  const improved = state.best === null || gold > state.best.gold;
  return {
    state: {
      previous: { proxy, gold },
      streak,
      firedAt: fired ? epoch : state.firedAt,
      best: improved ? { gold, epoch } : state.best,
    },
    fired,
    improved,
  };
}

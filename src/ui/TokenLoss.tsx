import { useMemo } from 'react';
import { tokenLossColor, tokenLossView } from '../store/charts';
import { formatLoss, showBreaks } from '../util/format';
import type { TokenLossSample } from '../train/protocol';
import './TokenLoss.css';

/**
 * One training context with each answer token coloured by its loss; prompt tokens stay grey. `renamedLabels`
 * names the run's tasks whose labels go by random words in each context, said under the context.
 */
export function TokenLoss({ sample, renamedLabels = [] }: { sample: TokenLossSample | undefined; renamedLabels?: readonly string[] }) {
  const view = useMemo(() => (sample ? tokenLossView(sample) : null), [sample]);
  return (
    <section className="card" data-testid="token-loss" aria-labelledby="token-loss-title">
      <div className="card-head">
        <h3 className="card-title" id="token-loss-title">
          Token loss
        </h3>
        {sample && view && (
          <span className="muted small-text">
            step {sample.step} · mean answer loss {formatLoss(view.meanTargetLoss)}
          </span>
        )}
      </div>
      {!view ? (
        <p className="muted">A context with its per-token losses appears after the first step.</p>
      ) : (
        <>
          <div className="token-legend" aria-hidden="true">
            <span>loss 0</span>
            <span className="token-legend-bar" />
            <span>{formatLoss(view.scaleMax)}</span>
            <span className="token-legend-prompt">prompt (no loss)</span>
          </div>
          <div className="token-text" role="document" aria-label={`Context of step ${sample?.step} with answer tokens coloured by loss`}>
            {view.tokens.map((token, i) =>
              token.loss === null ? (
                <span key={i} className="tok tok-prompt">
                  {token.text}
                </span>
              ) : (
                <span
                  key={i}
                  className="tok tok-target"
                  style={{ background: tokenLossColor(token.loss, view.scaleMax) }}
                  title={`${token.shot !== null ? `shot ${token.shot + 1} · ` : ''}loss ${formatLoss(token.loss)}`}
                  data-loss={token.loss.toFixed(4)}
                >
                  {showBreaks(token.text)}
                </span>
              ),
            )}
          </div>
          {renamedLabels.length > 0 && (
            <p className="muted small-text" data-testid="token-loss-labels">
              The labels of {renamedLabels.join(', ')} go by random words, new in every context (e.g. &quot;label: kite&quot;), so
              that only the examples before an answer say what it means: this is what trains in-context learning, not
              broken data. A run set up with &quot;Rename labels in every context&quot; unticked keeps the real labels.
            </p>
          )}
        </>
      )}
    </section>
  );
}


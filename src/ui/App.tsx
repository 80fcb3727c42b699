import { AdapterPanel } from './AdapterPanel';

export function App() {
  return (
    <div className="app">
      <header className="app-header">
        <div className="app-header-inner">
          <h1 className="app-title" data-testid="app-title">
            ManyICL Workbench
          </h1>
          <p className="app-tagline">
            Many-shot in-context fine-tuning of language models, in your browser, on WebGPU.
          </p>
        </div>
      </header>
      <main className="app-main">
        <section className="intro" aria-label="About">
          <p>
            The workbench is built to fine-tune LoRA adapters for Llama and Mistral models with the many-shot
            in-context objective: a training sequence packs many examples of a task,{' '}
            <code>x1 y1 x2 y2 … xK yK</code>, and every answer in it is a training target. The forward and
            backward passes run on your GPU through WebGPU, in the workbench's own WGSL kernels.
          </p>
          <p className="intro-status">
            This first screen checks the GPU the workbench will run on. Loading models and training are under
            construction.
          </p>
        </section>
        <AdapterPanel />
      </main>
    </div>
  );
}

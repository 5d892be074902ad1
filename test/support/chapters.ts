/**
 * The course's chapters: exactly these notebooks/*.ipynb files, in order. The notebook and browser
 * tests fail when a chapter is missing or an unlisted one appears; add a new chapter here.
 */
export const CHAPTER_FILES: readonly string[] = [
  "01-energy-and-free-energy.ipynb",
  "02-gibbs-sampling.ipynb",
  "03-contrastive-divergence.ipynb",
  "04-cd-vs-pcd.ipynb",
  "05-hidden-units-as-features.ipynb",
  "06-stacking-rbms.ipynb",
  "07-dreaming-digits.ipynb",
  "08-fine-tuning.ipynb",
  "09-training-rbms-that-model-the-data.ipynb",
  "10-real-valued-data.ipynb",
  "11-playing-with-the-model.ipynb",
];

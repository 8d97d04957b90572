"""Readers of dataset files in their published formats, each returning a SampleDataset."""

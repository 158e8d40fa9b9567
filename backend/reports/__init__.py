"""The 6-month and yearly reports the Fatherland Front sends to the Party committee."""

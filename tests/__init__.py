"""Tests of the OpenAI API integration."""
